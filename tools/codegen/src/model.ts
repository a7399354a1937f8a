import type { JsonObject } from './json.js';

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options';
export const HTTP_METHODS: readonly HttpMethod[] = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

export interface ParameterInfo {
  name: string;
  in: 'path' | 'query' | 'header';
  type: string;
  required: boolean;
  enum?: (string | number | boolean)[];
}

export interface OperationInfo {
  operationId: string;
  method: HttpMethod;
  /** basePath + path: the template as seen from the server root. */
  path: string;
  basePath: string;
  /** The API file, relative to spec/. */
  file: string;
  parameters: ParameterInfo[];
  /** Security scheme names; empty means no access token is needed. */
  security: string[];
  hasBody: boolean;
  /** Whether the spec requires the body; an empty optional body reads as `{}`. */
  bodyRequired: boolean;
  consumes: string[];
  produces: string[];
  /** JSON schemas for Ajv, `$ref`s made absolute. */
  bodySchema?: JsonObject;
  responses: Record<string, JsonObject | null>;
}

export interface SchemaFile {
  /** Relative to spec/, e.g. `event-schemas/schema/m.room.member`. */
  file: string;
  /** The component name in the generated types, e.g. `m.room.member` or `room_event`. */
  name: string;
  uri: string;
  /** For Ajv: annotations stripped, relative `$ref`s kept (the key is the base URI). */
  ajvSchema: JsonObject;
}

export interface SpecModel {
  /** One swagger 2.0 document holding every API, paths keyed from the server root. */
  swagger: JsonObject;
  operations: OperationInfo[];
  schemaFiles: SchemaFile[];
  /** Event type -> schema URI, for the per-type schemas of spec/event-schemas/schema. */
  eventSchemas: Record<string, string>;
  /** m.room.message msgtype -> schema URI. */
  msgtypeSchemas: Record<string, string>;
}

/** Base URI under which spec files are registered with Ajv. */
export const SPEC_BASE_URI = 'https://axon.invalid/spec/';
