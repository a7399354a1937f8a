/**
 * The redaction algorithm of the Matrix spec before room version 11 (as in room versions
 * 1-5: `m.room.aliases` keeps `aliases`, `m.room.create` keeps `creator`).
 */
import type { JsonObject, PersistedEvent, RedactionSummary } from './types.js';

/** Content keys that survive redaction, per event type; every other type keeps none. */
export const KEPT_CONTENT_KEYS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'm.room.member': ['membership'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule'],
  'm.room.power_levels': [
    'ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default',
  ],
  'm.room.aliases': ['aliases'],
  'm.room.history_visibility': ['history_visibility'],
});

export function prunedContent(type: string, content: JsonObject): JsonObject {
  const keep = KEPT_CONTENT_KEYS[type];
  const out: JsonObject = {};
  if (!keep) return out;
  for (const key of keep) {
    if (Object.hasOwn(content, key)) out[key] = content[key];
  }
  return out;
}

export class RedactionMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedactionMismatchError';
  }
}

export function redactionSummary(redaction: PersistedEvent | RedactionSummary): RedactionSummary {
  const summary: RedactionSummary = {
    event_id: redaction.event_id,
    room_id: redaction.room_id,
    type: redaction.type,
    sender: redaction.sender,
    content: redaction.content,
    origin_server_ts: redaction.origin_server_ts,
    ...(redaction.redacts !== undefined ? { redacts: redaction.redacts } : {}),
  };
  return summary;
}

/**
 * The redacted form of `ev`. Top-level keys the algorithm drops (here only `redacts`) go;
 * the keys Axon adds when serving (prev_content, replaces_state, transaction_id) stay,
 * as in Synapse, which adds them to the pruned event.
 */
export function redactEvent(ev: PersistedEvent, redaction: PersistedEvent | RedactionSummary): PersistedEvent {
  if (redaction.type !== 'm.room.redaction' || redaction.redacts !== ev.event_id) {
    throw new RedactionMismatchError(`${redaction.event_id} does not redact ${ev.event_id}`);
  }
  if (redaction.room_id !== ev.room_id) {
    throw new RedactionMismatchError(`${redaction.event_id} is not in the room of ${ev.event_id}`);
  }
  const { redacts: _dropped, ...kept } = ev;
  return {
    ...kept,
    content: prunedContent(ev.type, ev.content),
    // The first redaction wins: a later one does not change what clients were told.
    redacted_because: ev.redacted_because ?? redactionSummary(redaction),
  };
}

/** For a state event whose predecessor was redacted: the prev_content clients may see. */
export function redactPrevContent(ev: PersistedEvent): PersistedEvent {
  if (ev.prev_content === undefined) return ev;
  return { ...ev, prev_content: prunedContent(ev.type, ev.prev_content) };
}
