import type { Requester } from '../../domain/accounts/accounts.js';
import type { SyncRequester } from '../../domain/sync/sync-service.js';
import type { HandlerMap } from '../handler.js';
import { JsonBuffer } from '../json-reply.js';
import { RawJson } from '../raw-json.js';
import { defaultPushRules } from './push-rules-default.js';

const who = (r: Requester): SyncRequester => ({ userId: r.userId, tokenHash: r.tokenHash });
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** The v1 Sync API (old_sync.yaml), the room-level reads (rooms.yaml) and GET /pushrules/. */
export const syncHandlers: HandlerMap = {
  // not async: a poll waits here for minutes, and a suspended async function is kept whole
  getEvents: ({ query, app, requester, whenDisconnected }) =>
    app.sync.getEvents(who(requester()), { from: str(query.from), timeout: int(query.timeout) }, whenDisconnected, app.stopping)
      .then((text) => ({ status: 200, body: new RawJson(text) })),

  getInitialSync: async ({ query, app, requester }) => {
    const archived = typeof query.archived === 'boolean' ? query.archived : undefined;
    const out = new JsonBuffer();
    try {
      await app.sync.initialSync(who(requester()), { limit: int(query.limit), archived }, out);
    } catch (err) {
      out.release();
      throw err;
    }
    return { status: 200, body: new RawJson(out) };
  },

  getEventsByEventId: async ({ params, app, requester }) => {
    const ev = await app.sync.eventById(who(requester()), params.eventId!);
    return { status: 200, body: ev };
  },

  getRoomInitialSync: async ({ params, query, app, requester }) => {
    const text = await app.sync.roomInitialSync(who(requester()), params.roomId!, { limit: int(query.limit) });
    return { status: 200, body: new RawJson(text) };
  },

  getRoomEvents: async ({ params, query, app, requester }) => {
    const text = await app.sync.roomMessages(who(requester()), params.roomId!, {
      from: str(query.from), to: str(query.to), dir: str(query.dir), limit: int(query.limit),
    });
    return { status: 200, body: new RawJson(text) };
  },

  getPushRules: async ({ requester }) => {
    return { status: 200, body: defaultPushRules(requester().userId) };
  },
};
