import { existsSync } from 'node:fs';
import path from 'node:path';
import { SpecError } from './errors.js';
import { isObject, pointerSegment, type Json, type JsonObject } from './json.js';
import { listFiles, loadDocument } from './load.js';
import {
  HTTP_METHODS, SPEC_BASE_URI,
  type HttpMethod, type OperationInfo, type ParameterInfo, type SchemaFile, type SpecModel,
} from './model.js';
import { walkSchema } from './schema-walk.js';

const EVENT_SCHEMA_DIR = 'event-schemas/schema';

/** Component name for a schema file: short, stable, unique. */
export function componentName(file: string): string {
  let rel = file.replace(/\.(json|ya?ml)$/, '');
  if (rel.startsWith(`${EVENT_SCHEMA_DIR}/`)) rel = rel.slice(EVENT_SCHEMA_DIR.length + 1);
  else if (rel.includes('/definitions/')) rel = rel.slice(rel.indexOf('/definitions/') + '/definitions/'.length);
  rel = rel.replace(/^core-event-schema\//, '');
  return rel.replace(/\//g, '_');
}

/** A stable camelCase name for an operation the spec gives no operationId. */
export function deriveOperationId(method: string, apiPath: string): string {
  const pascal = (s: string): string =>
    s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  const words = apiPath.split('/').filter(Boolean).map((seg) => {
    const param = /^\{(.+)\}$/.exec(seg);
    return param ? `By${pascal(param[1]!)}` : pascal(seg);
  });
  return method + words.join('');
}

class Bundler {
  readonly definitions: JsonObject = {};
  readonly schemaFiles = new Map<string, SchemaFile>();
  private readonly names = new Map<string, string>();

  constructor(private readonly specRoot: string) {}

  rel(abs: string): string {
    return path.relative(this.specRoot, abs).split(path.sep).join('/');
  }

  /** Loads a schema file once; returns its component name. */
  schemaFile(abs: string, from: { file: string; pointer: string }): string {
    const file = this.rel(abs);
    const known = this.schemaFiles.get(file);
    if (known) return known.name;
    if (!existsSync(abs)) throw new SpecError(from.file, from.pointer, `$ref target not found: ${file}`);
    const name = componentName(file);
    const clash = this.names.get(name);
    if (clash) throw new SpecError(file, '', `component name "${name}" is taken by ${clash}`);
    this.names.set(name, file);
    const raw = loadDocument(this.specRoot, abs);
    const entry: SchemaFile = { file, name, uri: SPEC_BASE_URI + file, ajvSchema: {} };
    this.schemaFiles.set(file, entry);
    const dir = path.dirname(abs);
    this.definitions[name] = walkSchema(raw, {
      file,
      stripIdentity: true,
      ref: (value, pointer) => `#/definitions/${this.resolveRef(value, dir, { file, pointer })}`,
    });
    entry.ajvSchema = walkSchema(raw, {
      file,
      stripAnnotations: true,
      stripIdentity: true,
      ref: (value) => value,
    }) as JsonObject;
    return name;
  }

  /** A `$ref` to another file; local `#/...` refs inside external files are not used by the spec. */
  resolveRef(value: string, dir: string, from: { file: string; pointer: string }): string {
    if (value.startsWith('#')) throw new SpecError(from.file, from.pointer, `local $ref ${value} is not supported; refer to a file`);
    if (value.includes('#')) throw new SpecError(from.file, from.pointer, `$ref with a fragment is not supported: ${value}`);
    return this.schemaFile(path.resolve(dir, value), from);
  }

  /** The schema for Ajv inside an API file: `$ref`s made absolute URIs of the files they name. */
  ajvInline(schema: Json, dir: string, from: { file: string; pointer: string }): JsonObject {
    return walkSchema(schema, {
      file: from.file,
      stripAnnotations: true,
      ref: (value, pointer) => {
        const name = this.resolveRef(value, dir, { file: from.file, pointer });
        return SPEC_BASE_URI + this.names.get(name)!;
      },
    }, from.pointer) as JsonObject;
  }

  typesInline(schema: Json, dir: string, from: { file: string; pointer: string }): Json {
    return walkSchema(schema, {
      file: from.file,
      ref: (value, pointer) => `#/definitions/${this.resolveRef(value, dir, { file: from.file, pointer })}`,
    }, from.pointer);
  }
}

function asStringList(value: Json | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Reads all of spec/ into one model: the merged swagger document and the operation table. */
export function buildModel(specRoot: string): SpecModel {
  const bundler = new Bundler(specRoot);
  const apiFiles = listFiles(path.join(specRoot, 'api')).filter((f) => /\.ya?ml$/.test(f) && !f.includes('/definitions/'));
  const paths: JsonObject = {};
  const securityDefinitions: JsonObject = {};
  const operations: OperationInfo[] = [];
  const pathOwner = new Map<string, string>();
  const operationIds = new Map<string, string>();

  for (const apiRel of apiFiles) {
    const file = `api/${apiRel}`;
    const abs = path.join(specRoot, file);
    const dir = path.dirname(abs);
    const doc = loadDocument(specRoot, abs);
    if (!isObject(doc) || doc.swagger !== '2.0') throw new SpecError(file, '/swagger', "expected swagger: '2.0'");
    const basePath = typeof doc.basePath === 'string' ? doc.basePath.replace(/\/$/, '') : '';
    const consumes = asStringList(doc.consumes);
    const produces = asStringList(doc.produces);
    if (isObject(doc.securityDefinitions)) {
      for (const [name, def] of Object.entries(doc.securityDefinitions)) {
        if (securityDefinitions[name] && JSON.stringify(securityDefinitions[name]) !== JSON.stringify(def)) {
          throw new SpecError(file, `/securityDefinitions/${name}`, 'differs from the same scheme in another file');
        }
        securityDefinitions[name] = def;
      }
    }
    if (!isObject(doc.paths)) throw new SpecError(file, '/paths', 'missing paths');
    for (const [apiPath, item] of Object.entries(doc.paths)) {
      const itemPointer = `/paths/${pointerSegment(apiPath)}`;
      if (!isObject(item)) throw new SpecError(file, itemPointer, 'a path item must be an object');
      const fullPath = basePath + apiPath;
      const merged: JsonObject = isObject(paths[fullPath]) ? (paths[fullPath] as JsonObject) : {};
      const shared = Array.isArray(item.parameters) ? item.parameters : [];
      for (const [method, op] of Object.entries(item)) {
        if (method === 'parameters') continue;
        const opPointer = `${itemPointer}/${method}`;
        if (!HTTP_METHODS.includes(method as HttpMethod)) throw new SpecError(file, opPointer, `unknown method "${method}"`);
        if (!isObject(op)) throw new SpecError(file, opPointer, 'an operation must be an object');
        const key = `${method.toUpperCase()} ${fullPath}`;
        const owner = pathOwner.get(key);
        if (owner) throw new SpecError(file, opPointer, `duplicate path: ${key} is also defined in ${owner}`);
        pathOwner.set(key, file);
        const operationId = typeof op.operationId === 'string' ? op.operationId : deriveOperationId(method, apiPath);
        const idOwner = operationIds.get(operationId);
        if (idOwner) throw new SpecError(file, opPointer, `duplicate operationId "${operationId}" (also in ${idOwner})`);
        operationIds.set(operationId, file);

        const params = [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])];
        const parameters: ParameterInfo[] = [];
        const typedParams: Json[] = [];
        let bodySchema: JsonObject | undefined;
        let bodyRequired = false;
        params.forEach((p, i) => {
          const at = `${opPointer}/parameters/${i}`;
          if (!isObject(p) || typeof p.name !== 'string' || typeof p.in !== 'string') throw new SpecError(file, at, 'a parameter needs name and in');
          if (p.in === 'body') {
            if (p.schema === undefined) throw new SpecError(file, at, 'a body parameter needs a schema');
            bodySchema = bundler.ajvInline(p.schema, dir, { file, pointer: `${at}/schema` });
            bodyRequired = p.required === true;
            typedParams.push({ ...p, schema: bundler.typesInline(p.schema, dir, { file, pointer: `${at}/schema` }) });
            return;
          }
          if (p.in !== 'path' && p.in !== 'query' && p.in !== 'header') throw new SpecError(file, at, `unsupported parameter location "${p.in}"`);
          const info: ParameterInfo = { name: p.name, in: p.in, type: typeof p.type === 'string' ? p.type : 'string', required: p.required === true || p.in === 'path' };
          if (Array.isArray(p.enum)) info.enum = p.enum as (string | number | boolean)[];
          parameters.push(info);
          typedParams.push(p);
        });
        for (const m of apiPath.matchAll(/\{([^}]+)\}/g)) {
          if (!parameters.some((p) => p.in === 'path' && p.name === m[1])) {
            throw new SpecError(file, opPointer, `path parameter {${m[1]}} is not declared`);
          }
        }
        const responses: Record<string, JsonObject | null> = {};
        const typedResponses: JsonObject = {};
        if (!isObject(op.responses)) throw new SpecError(file, `${opPointer}/responses`, 'missing responses');
        for (const [status, response] of Object.entries(op.responses)) {
          const at = `${opPointer}/responses/${status}`;
          if (!isObject(response)) throw new SpecError(file, at, 'a response must be an object');
          const copy: JsonObject = { ...response };
          if (response.schema !== undefined) {
            responses[status] = bundler.ajvInline(response.schema, dir, { file, pointer: `${at}/schema` });
            copy.schema = bundler.typesInline(response.schema, dir, { file, pointer: `${at}/schema` });
          } else {
            responses[status] = null;
          }
          typedResponses[status] = copy;
        }
        const security = Array.isArray(op.security ?? doc.security)
          ? ((op.security ?? doc.security) as Json[]).flatMap((s) => (isObject(s) ? Object.keys(s) : []))
          : [];
        merged[method] = { ...op, operationId, parameters: typedParams, responses: typedResponses };
        operations.push({
          operationId, method: method as HttpMethod, path: fullPath, basePath, file, parameters, security,
          hasBody: bodySchema !== undefined,
          bodyRequired,
          consumes: asStringList(op.consumes ?? doc.consumes ?? consumes),
          produces: asStringList(op.produces ?? doc.produces ?? produces),
          ...(bodySchema ? { bodySchema } : {}),
          responses,
        });
      }
      paths[fullPath] = merged;
    }
  }

  // Every event schema is part of the contract, referenced by an API or not.
  const eventSchemas: Record<string, string> = {};
  const msgtypeSchemas: Record<string, string> = {};
  const schemaDir = path.join(specRoot, EVENT_SCHEMA_DIR);
  for (const rel of listFiles(schemaDir)) {
    const file = `${EVENT_SCHEMA_DIR}/${rel}`;
    bundler.schemaFile(path.join(schemaDir, rel), { file, pointer: '' });
    if (rel.startsWith('core-event-schema/')) continue;
    if (rel.startsWith('msgtype/')) msgtypeSchemas[rel.slice('msgtype/'.length)] = SPEC_BASE_URI + file;
    else if (!rel.includes('/')) eventSchemas[rel] = SPEC_BASE_URI + file;
  }

  const swagger: JsonObject = {
    swagger: '2.0',
    info: { title: 'Axon: the Matrix client-server API as served', version: '1.0.0' },
    basePath: '/',
    consumes: ['application/json'],
    produces: ['application/json'],
    securityDefinitions,
    paths,
    definitions: bundler.definitions,
  };
  const schemaFiles = [...bundler.schemaFiles.values()].sort((a, b) => a.file.localeCompare(b.file));
  return { swagger, operations, schemaFiles, eventSchemas, msgtypeSchemas };
}
