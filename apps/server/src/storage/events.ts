import type { EventDraft, Membership, PersistedEvent, RedactionSummary } from '../domain/events/types.js';
import type { RoomState } from '../domain/rooms/room-state.js';

/** What the domain supplies for an event; the store fills in the orderings and the replaced state. */
export interface NewEvent extends EventDraft {
  readonly event_id: string;
  readonly origin_server_ts: number;
  readonly txn_id?: string;
  readonly txn_token?: string;
}

/** Handed to an append's plan: the room's state as the events so far leave it. */
export interface AppendTransaction {
  /** The current state, including events appended earlier in this transaction. Read only. */
  readonly state: RoomState;
  /** Stores the event (all or nothing with the rest of the transaction) and applies it to `state`. */
  append(event: NewEvent): PersistedEvent;
}

/**
 * An AppendTransaction over functions the storage gives it. A class, whose `state` getter
 * lives once on the prototype: a getter in an object literal made an accessor pair per
 * append, which V8 allocates in the old generation, and from there it held each send's
 * objects through every young-generation GC until a full one.
 */
export class PlanTransaction implements AppendTransaction {
  constructor(private readonly readState: () => RoomState, readonly append: (event: NewEvent) => PersistedEvent) {}

  get state(): RoomState {
    return this.readState();
  }
}

export interface AppendOptions {
  /**
   * Idempotent sends: when this (token, txn id) already produced an event, nothing is
   * planned or stored and that event comes back with `deduplicated: true`.
   */
  readonly txn?: { readonly token: string; readonly txnId: string };
}

export interface AppendResult {
  readonly events: readonly PersistedEvent[];
  readonly deduplicated: boolean;
}

export interface RoomMembershipRow {
  readonly roomId: string;
  readonly userId: string;
  readonly membership: Membership;
  readonly eventId: string;
  readonly streamOrdering: number;
  readonly forgotten: boolean;
}

export interface RoomRecord {
  readonly roomId: string;
  readonly creator: string;
  readonly isPublic: boolean;
  readonly createdTs: number;
}

/** A position in a room's timeline: between events, ordered by (topological, stream). */
export interface TimelinePosition {
  readonly topological: number;
  readonly stream: number;
}

/**
 * Rooms and their events. Appends are serialised per room (one writer in SQLite, a row
 * lock in PostgreSQL), and a plan runs synchronously inside the transaction, so the auth
 * rules always see the state the event is applied to.
 */
export interface EventStore {
  /**
   * Runs `plan` against the room's current state inside one transaction and persists
   * what it appends. When `plan` throws, nothing is stored and the error propagates.
   * For a room that does not exist yet, `state` is empty and `plan` must append m.room.create first.
   * A store may run `plan` more than once (PostgreSQL plans against its cached state, and
   * again when that turns out stale): only the last run counts, so a plan must reset
   * whatever it records outside what it appends.
   */
  appendEvents(roomId: string, plan: (tx: AppendTransaction) => void, options?: AppendOptions): Promise<AppendResult>;

  /** Applies a redaction to the stored copy: content pruned, `redacted_because` kept. */
  applyRedaction(targetEventId: string, redaction: RedactionSummary): Promise<void>;

  /** The newest committed stream ordering (0 when empty): the `s` part of "now". */
  currentStreamOrdering(): Promise<number>;

  getEvent(eventId: string): Promise<PersistedEvent | null>;
  getEventIdForTxn(token: string, txnId: string): Promise<string | null>;

  getRoom(roomId: string): Promise<RoomRecord | null>;
  /** Whether the room exists. Rooms are never deleted, so a yes may be remembered for good. */
  roomExists(roomId: string): Promise<boolean>;
  createRoomRecord(room: RoomRecord): Promise<void>;
  setRoomPublic(roomId: string, isPublic: boolean): Promise<void>;
  publicRooms(): Promise<RoomRecord[]>;

  /** The room's state now, as a view; an unknown room gives an empty state. */
  getCurrentState(roomId: string): Promise<RoomState>;
  /**
   * getCurrentState for many rooms in one call (initialSync): room id -> its state events,
   * in getCurrentState's order. Rooms without state are absent. Reads only.
   */
  getCurrentStateEventsInRooms(roomIds: readonly string[]): Promise<Map<string, PersistedEvent[]>>;
  /** getRoom for many rooms in one call; unknown rooms are absent. */
  getRooms(roomIds: readonly string[]): Promise<Map<string, RoomRecord>>;
  /** The room's state just after the event at `streamOrdering` (for rooms a user has left). */
  getStateAt(roomId: string, streamOrdering: number): Promise<RoomState>;

  /** The user's current membership in each room they have one in. */
  getMemberships(userId: string): Promise<RoomMembershipRow[]>;
  getMembership(roomId: string, userId: string): Promise<RoomMembershipRow | null>;
  /** User ids whose current membership in the room is `membership`. */
  getRoomMembers(roomId: string, membership?: Membership): Promise<string[]>;
  /** The user's membership events in the room, oldest first, up to a stream ordering. */
  getMembershipEvents(roomId: string, userId: string, upToStream?: number): Promise<PersistedEvent[]>;
  setForgotten(roomId: string, userId: string): Promise<void>;

  /**
   * Room events in (fromStream, toStream], oldest first, at most `limit`, in the given
   * rooms: the raw material of /events, filtered for visibility by the caller.
   */
  getEventsInStreamRange(roomIds: readonly string[], fromStream: number, toStream: number, limit: number): Promise<PersistedEvent[]>;

  /**
   * A room's timeline page. A position stands just after the event it names. `dir: 'b'`
   * returns events in (bound, from], newest first; `'f'` returns events in (from, bound],
   * oldest first. `bound` is the other end, e.g. a `to` token or a leave event.
   */
  getRoomTimeline(roomId: string, from: TimelinePosition, dir: 'b' | 'f', limit: number, bound?: TimelinePosition): Promise<PersistedEvent[]>;

  /** The position just after the last event with stream ordering <= `stream` in the room. */
  timelinePositionAt(roomId: string, stream: number): Promise<TimelinePosition>;

  /** Every current membership row (the sync layer's in-memory index is built from these). */
  getAllMemberships(): Promise<RoomMembershipRow[]>;
  /** The room's last `limit` events with stream ordering <= `upToStream`, oldest first. */
  getLatestEvents(roomId: string, upToStream: number, limit: number): Promise<PersistedEvent[]>;
  /**
   * getLatestEvents for many rooms in one call (initialSync): room id -> its last `limit`
   * events with stream ordering <= `upToStream`, oldest first. Rooms without events are absent.
   */
  getLatestEventsInRooms(roomIds: readonly string[], upToStream: number, limit: number): Promise<Map<string, PersistedEvent[]>>;
  /** Every event that set (type, stateKey) in the room, oldest first, up to a stream ordering. */
  getStateHistory(roomId: string, type: string, stateKey: string, upToStream?: number): Promise<PersistedEvent[]>;
  /**
   * getStateHistory for many rooms in one call (initialSync): room id -> every event that
   * set (type, stateKey) there, oldest first. Rooms without any are absent. With
   * 'm.room.member' and a user id: the user's membership events in each room.
   */
  getStateHistoryInRooms(roomIds: readonly string[], type: string, stateKey: string): Promise<Map<string, PersistedEvent[]>>;

  createAlias(alias: string, roomId: string, creator: string): Promise<boolean>;
  getAlias(alias: string): Promise<{ roomId: string; creator: string } | null>;
  deleteAlias(alias: string): Promise<boolean>;
  aliasesForRoom(roomId: string): Promise<string[]>;
}
