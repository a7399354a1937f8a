import { SpecError } from './errors.js';
import { isObject, pointerSegment, type Json, type JsonObject } from './json.js';

/** Keywords of JSON schema draft-04 plus the few that swagger 2.0 adds to a schema object. */
const SCHEMA_KEYWORDS = new Set([
  '$schema', 'id', '$ref', 'title', 'description', 'default', 'multipleOf', 'maximum',
  'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern',
  'additionalItems', 'items', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties',
  'minProperties', 'required', 'additionalProperties', 'definitions', 'properties',
  'patternProperties', 'dependencies', 'enum', 'type', 'allOf', 'anyOf', 'oneOf', 'not', 'format',
  'discriminator', 'readOnly', 'xml', 'externalDocs', 'example',
]);
/** Keywords that only annotate: Ajv's strict mode rejects them, so the validator bundle drops them. */
const ANNOTATIONS = new Set(['example', 'discriminator', 'readOnly', 'xml', 'externalDocs']);

const SCHEMA_MAPS = ['properties', 'patternProperties', 'definitions', 'dependencies'];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf'];
const SCHEMA_SINGLES = ['not', 'additionalItems', 'additionalProperties', 'items'];

export interface WalkOptions {
  file: string;
  /** Rewrites a `$ref` value; called with the pointer where it stands. */
  ref: (value: string, pointer: string) => string;
  /** Drops annotation-only keywords and `x-` extensions (for Ajv's strict mode). */
  stripAnnotations?: boolean;
  /** Drops `$schema` and `id`, which OpenAPI 3 schema objects don't accept. */
  stripIdentity?: boolean;
}

/**
 * Copies a schema, checking every keyword and rewriting every `$ref`. It knows which
 * keywords hold sub-schemas, so a property that happens to be called `type` or `$ref`
 * is not mistaken for a keyword.
 */
export function walkSchema(node: Json, options: WalkOptions, pointer = ''): Json {
  if (typeof node === 'boolean') return node;
  if (!isObject(node)) throw new SpecError(options.file, pointer || '/', 'a schema must be an object');
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    const at = `${pointer}/${pointerSegment(key)}`;
    if (key.startsWith('x-')) {
      if (!options.stripAnnotations) out[key] = value;
      continue;
    }
    if (!SCHEMA_KEYWORDS.has(key)) throw new SpecError(options.file, at, `unknown schema keyword "${key}"`);
    if (options.stripAnnotations && ANNOTATIONS.has(key)) continue;
    if (options.stripIdentity && (key === '$schema' || key === 'id')) continue;
    if (key === '$ref') {
      if (typeof value !== 'string') throw new SpecError(options.file, at, '$ref must be a string');
      out[key] = options.ref(value, at);
    } else if (SCHEMA_MAPS.includes(key) && isObject(value)) {
      const map: JsonObject = {};
      for (const [name, sub] of Object.entries(value)) {
        // draft-04 dependencies may also be a list of property names
        map[name] = Array.isArray(sub) ? sub : walkSchema(sub, options, `${at}/${pointerSegment(name)}`);
      }
      out[key] = map;
    } else if (SCHEMA_LISTS.includes(key)) {
      if (!Array.isArray(value)) throw new SpecError(options.file, at, `${key} must be an array`);
      out[key] = value.map((sub, i) => walkSchema(sub, options, `${at}/${i}`));
    } else if (SCHEMA_SINGLES.includes(key) && (isObject(value) || Array.isArray(value))) {
      out[key] = Array.isArray(value)
        ? value.map((sub, i) => walkSchema(sub, options, `${at}/${i}`))
        : walkSchema(value, options, at);
    } else {
      out[key] = value;
    }
  }
  return out;
}
