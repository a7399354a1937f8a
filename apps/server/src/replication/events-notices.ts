import { withinBudget, type ReplicationMessage } from './bus.js';

export type EventsMessage = Extract<ReplicationMessage, { t: 'events' }>;

/**
 * Events notices as one: the newest position, and the events they name as far as they fit.
 * Only notices whose runs of positions meet or overlap are merged (mergeable), so `from`
 * is the earliest start; one without `from` announces everything up to its `pos`, and so
 * does the merge.
 */
export function mergeEvents(...messages: EventsMessage[]): EventsMessage {
  const pos = Math.max(...messages.map((m) => m.pos));
  const evs = withinBudget(messages.flatMap((m) => m.evs ?? []));
  const from = messages.every((m) => m.from !== undefined) ? Math.min(...messages.map((m) => m.from!)) : undefined;
  return { t: 'events', pos, ...(from !== undefined ? { from } : {}), ...(evs.length > 0 ? { evs } : {}) };
}

/**
 * Whether two events notices can go as one without a receiver losing what they cover: two
 * runs with another writer's positions between them stay two messages (of one line or
 * notice), or the earlier run's positions would be waited for as if still on their way.
 */
export function mergeable(a: EventsMessage, b: EventsMessage): boolean {
  return a.from === undefined || b.from === undefined || (b.from <= a.pos && a.from <= b.pos);
}
