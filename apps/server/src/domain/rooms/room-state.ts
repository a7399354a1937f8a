/** A pure in-memory view of a room's state: (type, state_key) -> the state event. */
import type { JsonObject, Membership, PersistedEvent } from '../events/types.js';
import { parsePowerLevels, userLevel, type PowerLevels } from './power-levels.js';

export function stateMapKey(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}

export type HistoryVisibility = 'invited' | 'joined' | 'shared' | 'world_readable';
const HISTORY_VISIBILITIES: readonly string[] = ['invited', 'joined', 'shared', 'world_readable'];
const MEMBERSHIPS: readonly string[] = ['invite', 'join', 'leave', 'ban', 'knock'];

export class RoomState {
  private readonly map: Map<string, PersistedEvent>;
  private pl: PowerLevels | undefined;

  constructor(events: Iterable<PersistedEvent> = []) {
    this.map = new Map();
    for (const ev of events) this.set(ev);
  }

  get size(): number {
    return this.map.size;
  }

  get(type: string, stateKey = ''): PersistedEvent | undefined {
    return this.map.get(stateMapKey(type, stateKey));
  }

  content(type: string, stateKey = ''): JsonObject | undefined {
    return this.get(type, stateKey)?.content;
  }

  /** Records a state event in place; non-state events are refused. */
  set(ev: PersistedEvent): this {
    if (typeof ev.state_key !== 'string') throw new TypeError(`${ev.event_id} is not a state event`);
    this.map.set(stateMapKey(ev.type, ev.state_key), ev);
    if (ev.type === 'm.room.power_levels' || ev.type === 'm.room.create') this.pl = undefined;
    return this;
  }

  /** A copy with `ev` applied; this view is left unchanged. */
  with(ev: PersistedEvent): RoomState {
    return new RoomState(this.map.values()).set(ev);
  }

  events(): IterableIterator<PersistedEvent> {
    return this.map.values();
  }

  creator(): string | undefined {
    const c = this.content('m.room.create')?.['creator'];
    return typeof c === 'string' ? c : this.get('m.room.create')?.sender;
  }

  membershipOf(userId: string): Membership | undefined {
    const m = this.content('m.room.member', userId)?.['membership'];
    return typeof m === 'string' && MEMBERSHIPS.includes(m) ? (m as Membership) : undefined;
  }

  /** User ids whose current membership is `membership`. */
  members(membership: Membership = 'join'): string[] {
    const out: string[] = [];
    for (const ev of this.map.values()) {
      if (ev.type === 'm.room.member' && ev.state_key !== undefined && ev.content['membership'] === membership) out.push(ev.state_key);
    }
    return out;
  }

  powerLevels(): PowerLevels {
    this.pl ??= parsePowerLevels(this.content('m.room.power_levels'), this.creator());
    return this.pl;
  }

  powerLevelOf(userId: string): number {
    return userLevel(this.powerLevels(), userId);
  }

  /** Without a join_rules event nobody uninvited may join, which is the `invite` rule. */
  joinRule(): string {
    const r = this.content('m.room.join_rules')?.['join_rule'];
    return typeof r === 'string' ? r : 'invite';
  }

  /** Synapse treats a missing or unknown history_visibility as `shared`. */
  historyVisibility(): HistoryVisibility {
    const v = this.content('m.room.history_visibility')?.['history_visibility'];
    return typeof v === 'string' && HISTORY_VISIBILITIES.includes(v) ? (v as HistoryVisibility) : 'shared';
  }

  guestAccess(): 'can_join' | 'forbidden' {
    return this.content('m.room.guest_access')?.['guest_access'] === 'can_join' ? 'can_join' : 'forbidden';
  }
}
