import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Writes a throwaway spec tree; returns its root and a cleanup. */
export function makeSpec(files: Record<string, string>): { root: string; cleanup: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'axon-spec-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export const EVENT_SCHEMA = JSON.stringify({
  $schema: 'http://json-schema.org/draft-04/schema#',
  type: 'object',
  properties: { type: { type: 'string' }, content: { type: 'object' } },
  required: ['type', 'content'],
});

export const MEMBER_SCHEMA = JSON.stringify({
  $schema: 'http://json-schema.org/draft-04/schema#',
  type: 'object',
  allOf: [{ $ref: 'core-event-schema/event.json' }],
  properties: { type: { type: 'string', enum: ['m.room.member'] } },
});

export function api(basePath: string, paths: string): string {
  return `swagger: '2.0'
info:
  title: test
  version: "1"
basePath: ${basePath}
securityDefinitions:
  accessToken:
    type: apiKey
    name: access_token
    in: query
paths:
${paths}`;
}

export const EVENTS_PATH = `  "/events/{eventId}":
    get:
      security:
        - accessToken: []
      parameters:
        - in: path
          name: eventId
          type: string
          required: true
      responses:
        200:
          description: ok
          schema:
            allOf:
              - "$ref": "../../event-schemas/schema/core-event-schema/event.json"
`;

export function baseSpec(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'event-schemas/schema/core-event-schema/event.json': EVENT_SCHEMA,
    'event-schemas/schema/m.room.member': MEMBER_SCHEMA,
    'api/client-server/a.yaml': api('/_matrix/client/api/v1', EVENTS_PATH),
    ...extra,
  };
}
