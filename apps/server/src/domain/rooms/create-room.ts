/**
 * The events createRoom sends, in order. Follows Synapse's RoomCreationHandler of the v1
 * era (presets, power levels, initial_state overriding preset events) except that
 * m.room.aliases comes before name and topic, as issue 4 orders it, where Synapse sent it
 * last (after the invites) from its directory handler.
 */
import type { operations } from '@axon/contract';
import type { EventDraft, JsonObject } from '../events/types.js';
import { defaultPowerLevelsContent } from './power-levels.js';

export type CreateRoomRequest = operations['createRoom']['requestBody']['content']['application/json'];
export type Preset = 'private_chat' | 'trusted_private_chat' | 'public_chat';

interface PresetConfig {
  readonly joinRule: 'invite' | 'public';
  readonly historyVisibility: 'shared';
  readonly inviteesHaveOps: boolean;
  readonly guestCanJoin: boolean;
}

export const PRESETS: Readonly<Record<Preset, PresetConfig>> = Object.freeze({
  private_chat: { joinRule: 'invite', historyVisibility: 'shared', inviteesHaveOps: false, guestCanJoin: true },
  trusted_private_chat: { joinRule: 'invite', historyVisibility: 'shared', inviteesHaveOps: true, guestCanJoin: true },
  public_chat: { joinRule: 'public', historyVisibility: 'shared', inviteesHaveOps: false, guestCanJoin: false },
});

export interface CreateRoomContext {
  readonly creator: string;
  readonly roomId: string;
  readonly serverName: string;
  /** Copied into the creator's join, as Synapse does with the creator's profile. */
  readonly creatorProfile?: { readonly displayname?: string | null; readonly avatar_url?: string | null };
}

export interface CreateRoomPlan {
  readonly preset: Preset;
  /** `#<room_alias_name>:<server>`, for the directory and the response. */
  readonly roomAlias?: string;
  /** Whether the room goes in the /publicRooms directory (visibility), not who may join. */
  readonly listedPublicly: boolean;
  readonly events: readonly EventDraft[];
}

export type CreateRoomErrcode = 'M_INVALID_PARAM' | 'M_INVALID_ROOM_STATE';
export type CreateRoomResult = { ok: true; plan: CreateRoomPlan } | { ok: false; errcode: CreateRoomErrcode; error: string };

const USER_ID = /^@[^:\s]+:\S+$/;

/** Without a preset, visibility decides: `public` means public_chat, anything else private_chat. */
export function resolvePreset(req: Pick<CreateRoomRequest, 'preset' | 'visibility'>): Preset {
  return req.preset ?? (req.visibility === 'public' ? 'public_chat' : 'private_chat');
}

export function planCreateRoom(req: CreateRoomRequest, ctx: CreateRoomContext): CreateRoomResult {
  const fail = (errcode: CreateRoomErrcode, error: string): CreateRoomResult => ({ ok: false, errcode, error });
  const preset = resolvePreset(req);
  const config = PRESETS[preset];
  if (config === undefined) return fail('M_INVALID_PARAM', `Unknown preset: ${String(preset)}`);

  let roomAlias: string | undefined;
  if (req.room_alias_name !== undefined) {
    if (req.room_alias_name === '' || /[\s:#]/.test(req.room_alias_name)) {
      return fail('M_INVALID_PARAM', 'Invalid characters in room alias');
    }
    roomAlias = `#${req.room_alias_name}:${ctx.serverName}`;
  }
  const invites = [...new Set(req.invite ?? [])];
  for (const u of invites) {
    if (!USER_ID.test(u)) return fail('M_INVALID_PARAM', `Invalid user_id: ${u}`);
    if (u === ctx.creator) return fail('M_INVALID_PARAM', 'You cannot invite yourself');
  }

  // Like Synapse's OrderedDict: a repeated (type, state_key) keeps its first place, last content.
  const initial = new Map<string, { type: string; stateKey: string; content: JsonObject }>();
  for (const s of req.initial_state ?? []) {
    const stateKey = s.state_key ?? '';
    if (s.type === 'm.room.create' || s.type === 'm.room.member') {
      return fail('M_INVALID_ROOM_STATE', `${s.type} cannot be given in initial_state`);
    }
    const key = `${s.type}\u0000${stateKey}`;
    const prior = initial.get(key);
    if (prior) prior.content = s.content;
    else initial.set(key, { type: s.type, stateKey, content: s.content });
  }
  const overridden = (type: string): boolean => initial.has(`${type}\u0000`);

  const { creator, roomId } = ctx;
  const events: EventDraft[] = [];
  const state = (type: string, content: JsonObject, stateKey = ''): void => {
    events.push({ room_id: roomId, type, state_key: stateKey, sender: creator, content });
  };

  state('m.room.create', { ...req.creation_content, creator });
  const join: JsonObject = { membership: 'join' };
  if (ctx.creatorProfile?.displayname != null) join['displayname'] = ctx.creatorProfile.displayname;
  if (ctx.creatorProfile?.avatar_url != null) join['avatar_url'] = ctx.creatorProfile.avatar_url;
  state('m.room.member', join, creator);
  if (!overridden('m.room.power_levels')) {
    state('m.room.power_levels', defaultPowerLevelsContent(creator, config.inviteesHaveOps ? invites : []));
  }
  if (roomAlias !== undefined && !overridden('m.room.canonical_alias')) state('m.room.canonical_alias', { alias: roomAlias });
  if (!overridden('m.room.join_rules')) state('m.room.join_rules', { join_rule: config.joinRule });
  if (!overridden('m.room.history_visibility')) {
    state('m.room.history_visibility', { history_visibility: config.historyVisibility });
  }
  if (config.guestCanJoin && !overridden('m.room.guest_access')) state('m.room.guest_access', { guest_access: 'can_join' });
  for (const s of initial.values()) state(s.type, s.content, s.stateKey);
  if (roomAlias !== undefined) state('m.room.aliases', { aliases: [roomAlias] }, ctx.serverName);
  if (req.name !== undefined) state('m.room.name', { name: req.name });
  if (req.topic !== undefined) state('m.room.topic', { topic: req.topic });
  for (const u of invites) state('m.room.member', { membership: 'invite' }, u);

  return {
    ok: true,
    plan: {
      preset,
      ...(roomAlias !== undefined ? { roomAlias } : {}),
      listedPublicly: req.visibility === 'public',
      events,
    },
  };
}
