/** One row of the generated operation table (see `operations`). */
export interface OperationInfo {
  readonly operationId: string;
  readonly method: 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options';
  /** The template from the server root, e.g. `/_matrix/client/api/v1/events/{eventId}`. */
  readonly path: string;
  readonly basePath: string;
  /** The API file under spec/ that describes it. */
  readonly file: string;
  readonly parameters: readonly ParameterInfo[];
  /** Security scheme names; empty when no access token is needed. */
  readonly security: readonly string[];
  readonly hasBody: boolean;
  /** Whether the spec requires the body; an empty optional body reads as `{}`. */
  readonly bodyRequired: boolean;
  readonly consumes: readonly string[];
  readonly produces: readonly string[];
  readonly statuses: readonly string[];
}

export interface ParameterInfo {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly type: string;
  readonly required: boolean;
  readonly enum?: readonly (string | number | boolean)[];
}
