import { afterEach, describe, expect, it } from 'vitest';
import { buildModel, SpecError } from '../src/index.js';
import { api, baseSpec, EVENTS_PATH, makeSpec } from './fixtures.js';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function build(files: Record<string, string>): unknown {
  const spec = makeSpec(files);
  cleanup = spec.cleanup;
  return buildModel(spec.root);
}

function specError(files: Record<string, string>): SpecError {
  try {
    build(files);
  } catch (err) {
    if (err instanceof SpecError) return err;
    throw err;
  }
  throw new Error('expected a SpecError');
}

describe('a broken spec gives an error naming the file and the place', () => {
  it('accepts the minimal valid spec', () => {
    expect(() => build(baseSpec())).not.toThrow();
  });

  it('missing $ref target', () => {
    const err = specError(baseSpec({
      'api/client-server/a.yaml': api('/_matrix/client/api/v1', EVENTS_PATH.replace('core-event-schema/event.json', 'core-event-schema/nope.json')),
    }));
    expect(err.file).toBe('api/client-server/a.yaml');
    expect(err.location).toBe('/paths/~1events~1{eventId}/get/responses/200/schema/allOf/0/$ref');
    expect(err.message).toContain('$ref target not found: event-schemas/schema/core-event-schema/nope.json');
  });

  it('duplicate path across two files', () => {
    const err = specError(baseSpec({ 'api/client-server/b.yaml': api('/_matrix/client/api/v1', EVENTS_PATH) }));
    expect(err.file).toBe('api/client-server/b.yaml');
    expect(err.message).toContain('duplicate path: GET /_matrix/client/api/v1/events/{eventId} is also defined in api/client-server/a.yaml');
  });

  it('the same path under two base paths is two operations, not a duplicate', () => {
    const model = build(baseSpec({ 'api/client-server/b.yaml': api('/_matrix/client/v2_alpha', EVENTS_PATH.replace('get:', 'get:\n      operationId: getEventV2')) })) as { operations: { path: string }[] };
    expect(model.operations.map((o) => o.path).sort()).toEqual([
      '/_matrix/client/api/v1/events/{eventId}', '/_matrix/client/v2_alpha/events/{eventId}',
    ]);
  });

  it('invalid YAML', () => {
    const err = specError(baseSpec({ 'api/client-server/a.yaml': api('/x', EVENTS_PATH).replace('  "/events/{eventId}":', '  "/events/{eventId}":\n  "/events/{eventId}":') }));
    expect(err.file).toBe('api/client-server/a.yaml');
    expect(err.location).toMatch(/^line \d+, column \d+$/);
    expect(err.message).toContain('invalid YAML');
  });

  it('invalid JSON in an extension-less event schema', () => {
    const err = specError(baseSpec({ 'event-schemas/schema/m.room.member': '{"type": "object",, }' }));
    expect(err.file).toBe('event-schemas/schema/m.room.member');
    expect(err.message).toContain('invalid YAML/JSON');
  });

  it('unknown schema keyword', () => {
    const err = specError(baseSpec({
      'event-schemas/schema/m.room.member': JSON.stringify({ type: 'object', properties: { content: { type: 'object', requried: ['membership'] } } }),
    }));
    expect(err.file).toBe('event-schemas/schema/m.room.member');
    expect(err.location).toBe('/properties/content/requried');
    expect(err.message).toContain('unknown schema keyword "requried"');
  });

  it('a property named like a keyword is not mistaken for one', () => {
    expect(() => build(baseSpec({
      'event-schemas/schema/m.room.member': JSON.stringify({ type: 'object', properties: { enum: { type: 'string' }, $ref: { type: 'string' } } }),
    }))).not.toThrow();
  });

  it('duplicate operationId', () => {
    const two = EVENTS_PATH.replace('get:', 'get:\n      operationId: same') +
      EVENTS_PATH.replace('"/events/{eventId}"', '"/other/{eventId}"').replace('get:', 'get:\n      operationId: same');
    const err = specError(baseSpec({ 'api/client-server/a.yaml': api('/x', two) }));
    expect(err.message).toContain('duplicate operationId "same"');
  });

  it('undeclared path parameter', () => {
    const err = specError(baseSpec({ 'api/client-server/a.yaml': api('/x', EVENTS_PATH.replace('"/events/{eventId}"', '"/events/{eventId}/{extra}"')) }));
    expect(err.message).toContain('path parameter {extra} is not declared');
  });
});
