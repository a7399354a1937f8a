import ajvDraft04 from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction, AnySchemaObject } from 'ajv';
import ajvFormats from 'ajv-formats';
import bundle from './generated/schemas.json' with { type: 'json' };
import { operationTable, type OperationId } from './generated/operations.js';
import type { OperationInfo } from './operation-info.js';

/** One reason a value failed its schema. */
export interface ValidationIssue {
  /** JSON pointer into the value, '' for the root. */
  path: string;
  /** The schema keyword that failed: required, type, enum, ... */
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

export type ValidationResult = { ok: true } | { ok: false; issues: ValidationIssue[] };

type Schema = Record<string, unknown>;
interface Bundle {
  schemas: Record<string, Schema>;
  events: Record<string, string>;
  msgtypes: Record<string, string>;
  operations: Record<string, { body?: Schema; responses: Record<string, Schema | null> }>;
}
const spec = bundle as unknown as Bundle;

const Ajv = ajvDraft04.default;
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
ajvFormats.default(ajv);
for (const [uri, schema] of Object.entries(spec.schemas)) ajv.addSchema(schema, uri);

const OK: ValidationResult = { ok: true };

function toIssues(errors: readonly ErrorObject[] | null | undefined): ValidationIssue[] {
  return (errors ?? []).map((e) => ({
    path: e.instancePath,
    keyword: e.keyword,
    message: e.message ?? 'is invalid',
    params: { ...e.params },
  }));
}

function result(validate: ValidateFunction, value: unknown): ValidationResult {
  return validate(value) ? OK : { ok: false, issues: toIssues(validate.errors) };
}

const compiled = new Map<string, ValidateFunction>();
/** Compiles each schema once, on first use. */
function validatorFor(key: string, schema?: Schema): ValidateFunction {
  let fn = compiled.get(key);
  if (!fn) {
    fn = schema ? ajv.compile(schema) : ajv.getSchema(key);
    if (!fn) throw new Error(`no schema ${key}`);
    compiled.set(key, fn);
  }
  return fn;
}

/** `table[key]` only when the table itself has it: `__proto__` or `constructor` are client-chosen event types too. */
function ownEntry(table: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The event types with a schema of their own. */
export const eventTypesWithSchema: readonly string[] = Object.keys(spec.events);

/**
 * Checks an event against the schema of its `type` (and, for m.room.message, of its
 * `msgtype`). Types without a schema only need to be an object with a string `type`:
 * Matrix lets clients invent event types.
 */
export function validateEvent(event: unknown): ValidationResult {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return { ok: false, issues: [{ path: '', keyword: 'type', message: 'must be object', params: { type: 'object' } }] };
  }
  const { type, content } = event as { type?: unknown; content?: unknown };
  if (typeof type !== 'string') {
    return { ok: false, issues: [{ path: '/type', keyword: 'type', message: 'must be string', params: { type: 'string' } }] };
  }
  const uri = ownEntry(spec.events, type);
  if (!uri) return OK;
  const base = result(validatorFor(uri), event);
  if (!base.ok) return base;
  const msgtype = type === 'm.room.message' && typeof content === 'object' && content !== null
    ? (content as { msgtype?: unknown }).msgtype : undefined;
  const msgtypeUri = typeof msgtype === 'string' ? ownEntry(spec.msgtypes, msgtype) : undefined;
  return msgtypeUri ? result(validatorFor(msgtypeUri), event) : OK;
}

// Served events are checked twice: against the response schema (the loose core schemas
// the seed refers to) and against their own type's schema, through this keyword, which
// wraps every event `$ref` of a response schema.
ajv.addKeyword({
  keyword: 'axonServedEvent',
  errors: true,
  validate: function servedEvent(this: unknown, _schema: unknown, data: unknown, _parent?: AnySchemaObject, ctx?: { instancePath?: string }): boolean {
    const checked = validateEvent(data);
    if (checked.ok) return true;
    (servedEvent as { errors?: Partial<ErrorObject>[] }).errors = checked.issues.map((i) => ({
      keyword: i.keyword,
      instancePath: (ctx?.instancePath ?? '') + i.path,
      message: `${i.message} (event schema)`,
      params: i.params,
    }));
    return false;
  },
});

const EVENT_SCHEMA = /\/event-schemas\/schema\//;
function markServedEvents(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(markServedEvents);
  if (typeof node !== 'object' || node === null) return node;
  const obj = node as Schema;
  if (typeof obj.$ref === 'string' && EVENT_SCHEMA.test(obj.$ref)) return { allOf: [obj], axonServedEvent: true };
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, k === 'enum' || k === 'required' ? v : markServedEvents(v)]));
}

/** Checks a request body against the operation's body schema. */
export function validateRequestBody(operationId: OperationId, body: unknown): ValidationResult {
  const schema = spec.operations[operationId]?.body;
  if (!schema) return OK;
  return result(validatorFor(`body ${operationId}`, schema), body);
}

/** Whether the spec describes this status for the operation. */
export function describesResponse(operationId: OperationId, status: number): boolean {
  return String(status) in (spec.operations[operationId]?.responses ?? {});
}

export interface ResponseValidationOptions {
  /**
   * Also check every event in the body against its own type's schema (default true).
   * The seed's own examples predate `sender` and fail that stricter check.
   */
  eventSchemas?: boolean;
}

/**
 * Checks a response body against the operation's schema for that status and, unless
 * told otherwise, every event in it against its type's schema. An undescribed status is
 * an issue; a described status without a schema accepts anything.
 */
export function validateResponse(
  operationId: OperationId, status: number, body: unknown, options: ResponseValidationOptions = {},
): ValidationResult {
  const responses = spec.operations[operationId]?.responses ?? {};
  const schema = responses[String(status)];
  if (schema === undefined) {
    return { ok: false, issues: [{ path: '', keyword: 'status', message: `status ${status} is not described for ${operationId}`, params: { status } }] };
  }
  if (schema === null) return OK;
  const strict = options.eventSchemas !== false;
  const key = `response ${operationId} ${status}${strict ? ' events' : ''}`;
  return result(validatorFor(key, (strict ? markServedEvents(schema) : schema) as Schema), body);
}

export type QueryValue = string | number | boolean;
export type QueryResult =
  | { ok: true; values: Record<string, QueryValue> }
  | { ok: false; issues: ValidationIssue[] };

/**
 * Reads an operation's query parameters from a raw query (strings, or arrays when a
 * parameter was given twice: the first wins, as in Synapse), converting integers and
 * booleans. Parameters the spec doesn't name are ignored.
 */
export function parseQuery(operationId: OperationId, raw: Record<string, unknown>): QueryResult {
  const op: OperationInfo | undefined = operationTable.find((o) => o.operationId === operationId);
  const values: Record<string, QueryValue> = {};
  const issues: ValidationIssue[] = [];
  for (const p of op?.parameters ?? []) {
    if (p.in !== 'query') continue;
    let given = raw[p.name];
    if (Array.isArray(given)) given = given[0];
    if (given === undefined) {
      if (p.required) issues.push({ path: `/${p.name}`, keyword: 'required', message: `query parameter ${p.name} is required`, params: { missingProperty: p.name } });
      continue;
    }
    if (typeof given !== 'string') {
      issues.push({ path: `/${p.name}`, keyword: 'type', message: `query parameter ${p.name} must be a ${p.type}`, params: { type: p.type } });
      continue;
    }
    let value: QueryValue = given;
    if (p.type === 'integer') {
      if (!/^-?\d{1,15}$/.test(given)) {
        issues.push({ path: `/${p.name}`, keyword: 'type', message: `query parameter ${p.name} must be an integer`, params: { type: 'integer' } });
        continue;
      }
      value = Number(given);
    } else if (p.type === 'boolean') {
      if (given !== 'true' && given !== 'false') {
        issues.push({ path: `/${p.name}`, keyword: 'type', message: `query parameter ${p.name} must be one of true, false`, params: { type: 'boolean' } });
        continue;
      }
      value = given === 'true';
    }
    const allowed = p.enum;
    if (allowed && !allowed.includes(value)) {
      issues.push({ path: `/${p.name}`, keyword: 'enum', message: `query parameter ${p.name} must be one of ${allowed.join(', ')}`, params: { allowedValues: allowed } });
      continue;
    }
    values[p.name] = value;
  }
  return issues.length ? { ok: false, issues } : { ok: true, values };
}
