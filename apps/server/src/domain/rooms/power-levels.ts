/**
 * Power levels as the era's auth rules read them (Synapse's event_auth before room v11),
 * including the defaults that apply when a room has no m.room.power_levels event.
 */
import type { JsonObject } from '../events/types.js';

export interface PowerLevels {
  /** Whether an m.room.power_levels event exists; several defaults depend on it. */
  readonly present: boolean;
  readonly users: ReadonlyMap<string, number>;
  readonly usersDefault: number;
  readonly events: ReadonlyMap<string, number>;
  readonly eventsDefault: number;
  readonly stateDefault: number;
  readonly ban: number;
  readonly kick: number;
  readonly redact: number;
  readonly invite: number;
}

/** Synapse's power_levels content for a new room (invite 0, as its presets leave it). */
export function defaultPowerLevelsContent(creator: string, alsoAdmins: readonly string[] = []): JsonObject {
  const users: Record<string, number> = { [creator]: 100 };
  for (const u of alsoAdmins) users[u] = 100;
  return {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
  };
}

/** A level as Synapse's int() reads it: integers and integer strings; anything else is absent. */
export function toLevel(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*[+-]?\d{1,15}\s*$/.test(v)) return Number.parseInt(v, 10);
  return undefined;
}

function levelMap(v: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, raw] of Object.entries(v)) {
    const level = toLevel(raw);
    if (level !== undefined) out.set(k, level);
  }
  return out;
}

/**
 * Without a power_levels event the creator has 100, everyone else 0, and every event
 * needs 0; ban, kick and redact keep their usual 50.
 */
export function parsePowerLevels(content: JsonObject | undefined, creator: string | undefined): PowerLevels {
  if (content === undefined) {
    return {
      present: false,
      users: new Map(creator === undefined ? [] : [[creator, 100]]),
      usersDefault: 0, events: new Map(), eventsDefault: 0, stateDefault: 0,
      ban: 50, kick: 50, redact: 50, invite: 0,
    };
  }
  const get = (key: string, dflt: number): number => toLevel(content[key]) ?? dflt;
  return {
    present: true,
    users: levelMap(content['users']),
    usersDefault: get('users_default', 0),
    events: levelMap(content['events']),
    eventsDefault: get('events_default', 0),
    stateDefault: get('state_default', 50),
    ban: get('ban', 50),
    kick: get('kick', 50),
    redact: get('redact', 50),
    invite: get('invite', 0),
  };
}

export function userLevel(pl: PowerLevels, userId: string): number {
  return pl.users.get(userId) ?? pl.usersDefault;
}

export function levelToSend(pl: PowerLevels, type: string, isState: boolean): number {
  return pl.events.get(type) ?? (isState ? pl.stateDefault : pl.eventsDefault);
}

export type PowerLevelsVerdict = { ok: true } | { ok: false; errcode: 'M_FORBIDDEN' | 'M_BAD_JSON'; error: string };

const TOP_LEVEL_KEYS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

function rawMap(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function malformed(content: JsonObject): string | undefined {
  for (const key of TOP_LEVEL_KEYS) {
    if (content[key] !== undefined && toLevel(content[key]) === undefined) return `Not a valid power level: ${key}`;
  }
  for (const [k, v] of Object.entries(rawMap(content['users']))) {
    if (!/^@[^:]+:.+$/.test(k)) return `Not a valid user_id: ${k}`;
    if (toLevel(v) === undefined) return `Not a valid power level for ${k}`;
  }
  for (const [k, v] of Object.entries(rawMap(content['events']))) {
    if (toLevel(v) === undefined) return `Not a valid power level for ${k}`;
  }
  return undefined;
}

/**
 * A change may not touch a level above the sender's own (old or new value), nor another
 * user whose level equals or exceeds the sender's; lowering oneself is allowed. Unchanged
 * entries are not checked. The first power_levels event of a room is not restricted.
 */
export function checkPowerLevelsChange(
  sender: string, senderLevel: number, oldContent: JsonObject | undefined, newContent: JsonObject,
): PowerLevelsVerdict {
  const bad = malformed(newContent);
  if (bad !== undefined) return { ok: false, errcode: 'M_BAD_JSON', error: bad };
  if (oldContent === undefined) return { ok: true };

  const checks: Array<[unknown, unknown, string | undefined]> = TOP_LEVEL_KEYS.map((k) => [oldContent[k], newContent[k], undefined]);
  for (const dir of ['users', 'events'] as const) {
    const o = rawMap(oldContent[dir]);
    const n = rawMap(newContent[dir]);
    for (const k of new Set([...Object.keys(o), ...Object.keys(n)])) checks.push([o[k], n[k], dir === 'users' ? k : undefined]);
  }
  for (const [rawOld, rawNew, user] of checks) {
    const oldLevel = toLevel(rawOld);
    const newLevel = toLevel(rawNew);
    if (oldLevel === newLevel) continue;
    if (user !== undefined && user !== sender && oldLevel !== undefined && oldLevel >= senderLevel) {
      return { ok: false, errcode: 'M_FORBIDDEN', error: "You don't have permission to remove ops level equal to your own" };
    }
    if ((oldLevel !== undefined && oldLevel > senderLevel) || (newLevel !== undefined && newLevel > senderLevel)) {
      return { ok: false, errcode: 'M_FORBIDDEN', error: "You don't have permission to add ops level greater than your own" };
    }
  }
  return { ok: true };
}
