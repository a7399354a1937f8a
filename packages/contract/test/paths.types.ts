// Type-level tests: `pnpm typecheck` (tsc -p tsconfig.test.json) compiles this file, so a
// `@ts-expect-error` that stops being an error fails the build.
import createClient from 'openapi-fetch';
import type { paths } from '../src/index.js';
import type { EventOfType, KnownEvent, RoomMemberEvent } from '../src/events.js';

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:8008' });

export async function typeChecks(): Promise<void> {
  const { data } = await client.GET('/_matrix/client/api/v1/initialSync', { params: { query: { limit: 2 } } });
  if (data) {
    const end: string = data.end;
    const membership: 'invite' | 'join' | 'leave' | 'ban' | undefined = data.rooms[0]?.membership;
    void end;
    void membership;
  }
  // @ts-expect-error limit must be a number
  await client.GET('/_matrix/client/api/v1/initialSync', { params: { query: { limit: '2' } } });
  // @ts-expect-error unknown path
  await client.GET('/_matrix/client/api/v1/nope');
  await client.GET('/_matrix/client/api/v1/events/{eventId}', { params: { path: { eventId: '$x:y' } } });
  // the same path under two base paths stays two operations
  await client.POST('/_matrix/client/v2_alpha/register', { body: { username: 'a', password: 'b' } });
}

export function eventChecks(event: KnownEvent): string | undefined {
  if (event.type === 'm.room.member') {
    const member: RoomMemberEvent = event;
    return member.content.membership;
  }
  const typing: EventOfType<'m.typing'>['type'] = 'm.typing';
  // @ts-expect-error not a known event type
  const wrong: EventOfType<'m.room.nope'>['type'] = 'm.room.nope';
  void wrong;
  return typing;
}
