import type { PresenceState } from '../../storage/streams.js';
import { errors } from '../../errors.js';
import type { AppContext } from '../context.js';
import type { HandlerMap } from '../handler.js';

const USER_ID = /^@[^:]+:.+$/;
const MAX_STATUS_MSG = 1024;

function own(callerId: string, userId: string, what: string): void {
  if (callerId !== userId) throw errors.forbidden(`You may not ${what} of another user`);
}

/** The presence event's content without user_id, as Synapse answers GET .../status. */
async function presenceOf(app: AppContext, userId: string): Promise<Record<string, unknown>> {
  const record = await app.streams.presence.get(userId);
  if (!record) return { presence: 'offline' };
  const { user_id: _omit, ...content } = app.streams.presence.event(record).content;
  return content;
}

/** Presence status and the 2015 presence lists, through the sync layer's presence stream. */
export const presenceHandlers: HandlerMap = {
  getPresence: async ({ params, app, requester }) => {
    const caller = requester().userId;
    const userId = params.userId!;
    if (!USER_ID.test(userId) || !(await app.storage.getUser(userId))) throw errors.notFound(`Unknown user ${userId}`);
    if (userId !== caller && !app.sync.membership.usersSharingRoomWith(caller).has(userId)
      && !(await app.storage.presenceList.presenceList(caller)).includes(userId)) {
      throw errors.forbidden('You are not allowed to see their presence.');
    }
    return { status: 200, body: (await presenceOf(app, userId)) as never };
  },

  setPresence: async ({ params, body, app, requester }) => {
    own(requester().userId, params.userId!, 'set the presence');
    const statusMsg = body.status_msg;
    if (statusMsg !== undefined && statusMsg.length > MAX_STATUS_MSG) throw errors.invalidParam(`status_msg is too long (max ${MAX_STATUS_MSG})`);
    // As in Synapse, a PUT without status_msg clears it.
    await app.streams.presence.set(params.userId!, body.presence as PresenceState, statusMsg ?? null);
    return { status: 200, body: {} };
  },

  getPresenceList: async ({ params, app, requester }) => {
    own(requester().userId, params.userId!, 'read the presence list');
    const listed = await app.storage.presenceList.presenceList(params.userId!);
    const known = new Map((await app.streams.presence.snapshot(listed)).map((r) => [r.userId, r]));
    const now = Date.now();
    const chunk = [];
    for (const userId of listed) {
      const record = known.get(userId);
      const content: Record<string, unknown> = record ? { ...app.streams.presence.event(record, now).content } : { presence: 'offline', user_id: userId };
      const user = await app.storage.getUser(userId);
      if (user?.displayname) content['displayname'] = user.displayname;
      if (user?.avatarUrl) content['avatar_url'] = user.avatarUrl;
      chunk.push({ type: 'm.presence', content });
    }
    return { status: 200, body: chunk as never };
  },

  modifyPresenceList: async ({ params, body, app, requester }) => {
    const owner = params.userId!;
    own(requester().userId, owner, 'change the presence list');
    const invite = body.invite ?? [];
    const drop = body.drop ?? [];
    for (const u of [...invite, ...drop]) {
      if (!USER_ID.test(u)) throw errors.invalidParam(`Invalid user id ${u}`);
    }
    for (const u of invite) {
      if (u.slice(u.indexOf(':') + 1) !== app.config.server_name) throw errors.forbidden('Users on other servers cannot be reached: Axon does not federate');
      if (!(await app.storage.getUser(u))) throw errors.notFound(`Unknown user ${u}`);
    }
    await app.storage.presenceList.addToPresenceList(owner, invite.filter((u) => u !== owner));
    await app.storage.presenceList.dropFromPresenceList(owner, drop);
    return { status: 200, body: {} };
  },
};
