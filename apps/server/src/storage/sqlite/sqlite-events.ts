import type Database from 'better-sqlite3';
import type { Membership, PersistedEvent, RedactionSummary } from '../../domain/events/types.js';
import { prunedContent } from '../../domain/events/redaction.js';
import { RoomState } from '../../domain/rooms/room-state.js';
import type {
  AppendOptions, AppendResult, AppendTransaction, EventStore, NewEvent, RoomMembershipRow, RoomRecord, TimelinePosition,
} from '../events.js';
import { PlanTransaction } from '../events.js';
import { appendedEvent, eventColumns, eventFromRow, membershipFromRow, roomFromRow, unsignedJson, type EventRow, type MembershipRow, type RoomRow } from '../rows.js';

interface PendingAppend {
  readonly roomId: string;
  readonly plan: (tx: AppendTransaction) => void;
  readonly options: AppendOptions;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Rooms whose state is kept in memory; the one writer keeps them exact. */
const STATE_CACHE_ROOMS = 2_000;
/** Room records kept in memory (a few hundred bytes each). */
const ROOM_CACHE_SIZE = 100_000;

/**
 * Events, state and memberships on SQLite. The store is the only writer of its database
 * (one connection, synchronous transactions), so cached room state never goes stale.
 */
export class SqliteEventStore implements EventStore {
  private readonly stateCache = new Map<string, RoomState>();
  private readonly depthCache = new Map<string, number>();
  /** Room records by id: written only through this store, so exact (every send reads one). */
  private readonly roomCache = new Map<string, RoomRecord>();
  /** Appends waiting for this turn's group commit (see appendEvents). */
  private pending: PendingAppend[] = [];
  /** Rows written by plans so far: whether a failed plan wrote anything. */
  private writes = 0;
  private readonly s;

  /** Built once: better-sqlite3 makes a savepoint of it inside the batch's transaction. */
  private readonly appendTx: (roomId: string, plan: (tx: AppendTransaction) => void, options: AppendOptions) => AppendResult;
  private readonly batchTx: (body: () => void) => void;

  constructor(private readonly db: Database.Database) {
    this.appendTx = db.transaction((roomId: string, plan: (tx: AppendTransaction) => void, options: AppendOptions) =>
      this.appendInTransaction(roomId, plan, options));
    this.batchTx = db.transaction((body: () => void) => body());
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertEvent: p(`INSERT INTO events (event_id, room_id, type, state_key, sender, content, origin_server_ts, topological_ordering,
        redacts, unsigned, prev_content, replaces_state, txn_token_hash, txn_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      upsertState: p(`INSERT INTO current_state (room_id, type, state_key, event_id) VALUES (?, ?, ?, ?)
        ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`),
      upsertMembership: p(`INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering, forgotten) VALUES (?, ?, ?, ?, ?, 0)
        ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
        stream_ordering = excluded.stream_ordering, forgotten = 0`),
      insertTxn: p('INSERT INTO event_txns (token_hash, txn_id, event_id, created_ts) VALUES (?, ?, ?, ?)'),
      getTxn: p('SELECT event_id FROM event_txns WHERE token_hash = ? AND txn_id = ?'),
      maxDepth: p('SELECT max(topological_ordering) AS d FROM events WHERE room_id = ?'),
      maxStream: p('SELECT max(stream_ordering) AS s FROM events'),
      getEvent: p('SELECT * FROM events WHERE event_id = ?'),
      redact: p('UPDATE events SET content = ?, unsigned = ?, redacts = NULL WHERE event_id = ?'),
      insertRedaction: p('INSERT INTO redactions (event_id, redaction_event_id) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      successors: p('SELECT * FROM events WHERE replaces_state = ?'),
      setPrevContent: p('UPDATE events SET prev_content = ? WHERE event_id = ?'),
      getRoom: p('SELECT * FROM rooms WHERE room_id = ?'),
      insertRoom: p('INSERT INTO rooms (room_id, creator, is_public, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT (room_id) DO NOTHING'),
      setPublic: p('UPDATE rooms SET is_public = ? WHERE room_id = ?'),
      publicRooms: p('SELECT * FROM rooms WHERE is_public = 1 ORDER BY created_ts, room_id'),
      currentState: p('SELECT e.* FROM current_state c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = ?'),
      stateAt: p(`SELECT e.* FROM events e JOIN (
          SELECT max(stream_ordering) AS so FROM events
          WHERE room_id = ? AND state_key IS NOT NULL AND stream_ordering <= ? GROUP BY type, state_key
        ) last ON last.so = e.stream_ordering`),
      memberships: p('SELECT * FROM room_memberships WHERE user_id = ?'),
      membership: p('SELECT * FROM room_memberships WHERE room_id = ? AND user_id = ?'),
      members: p('SELECT user_id FROM room_memberships WHERE room_id = ? AND membership = ? ORDER BY user_id'),
      membershipEvents: p(`SELECT * FROM events WHERE room_id = ? AND type = 'm.room.member' AND state_key = ? AND stream_ordering <= ?
        ORDER BY stream_ordering`),
      forget: p('UPDATE room_memberships SET forgotten = 1 WHERE room_id = ? AND user_id = ?'),
      backward: p(`SELECT * FROM events WHERE room_id = ? AND (topological_ordering < ? OR (topological_ordering = ? AND stream_ordering <= ?))
        AND (topological_ordering > ? OR (topological_ordering = ? AND stream_ordering > ?))
        ORDER BY topological_ordering DESC, stream_ordering DESC LIMIT ?`),
      forward: p(`SELECT * FROM events WHERE room_id = ? AND (topological_ordering > ? OR (topological_ordering = ? AND stream_ordering > ?))
        AND (topological_ordering < ? OR (topological_ordering = ? AND stream_ordering <= ?))
        ORDER BY topological_ordering, stream_ordering LIMIT ?`),
      positionAt: p(`SELECT topological_ordering AS t, stream_ordering AS s FROM events WHERE room_id = ? AND stream_ordering <= ?
        ORDER BY stream_ordering DESC LIMIT 1`),
      allMemberships: p('SELECT * FROM room_memberships'),
      latestEvents: p('SELECT * FROM events WHERE room_id = ? AND stream_ordering <= ? ORDER BY stream_ordering DESC LIMIT ?'),
      stateHistory: p(`SELECT * FROM events WHERE room_id = ? AND type = ? AND state_key = ? AND stream_ordering <= ?
        ORDER BY stream_ordering`),
      createAlias: p('INSERT INTO room_aliases (alias, room_id, creator) VALUES (?, ?, ?) ON CONFLICT (alias) DO NOTHING'),
      getAlias: p('SELECT room_id, creator FROM room_aliases WHERE alias = ?'),
      deleteAlias: p('DELETE FROM room_aliases WHERE alias = ?'),
      roomAliases: p('SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias'),
    };
  }

  private loadState(roomId: string): RoomState {
    let state = this.stateCache.get(roomId);
    if (state) {
      // refresh its place in the LRU order
      this.stateCache.delete(roomId);
      this.stateCache.set(roomId, state);
      return state;
    }
    state = new RoomState((this.s.currentState.all(roomId) as EventRow[]).map(eventFromRow));
    if (state.size > 0) {
      this.stateCache.set(roomId, state);
      if (this.stateCache.size > STATE_CACHE_ROOMS) this.stateCache.delete(this.stateCache.keys().next().value!);
    }
    return state;
  }

  private nextDepth(roomId: string): number {
    let depth = this.depthCache.get(roomId);
    if (depth === undefined) depth = (this.s.maxDepth.get(roomId) as { d: number | null }).d ?? 0;
    return depth + 1;
  }

  /**
   * Group commit: appends asked for in the same turn of the event loop (concurrent sends)
   * run one after another, in call order, inside one transaction, and one plan's failure
   * undoes only its own events (see runBatch); the promises settle after
   * the single commit. Stream order is call order, and nothing is announced before the
   * commit, since callers hear of their events only when their promise resolves.
   */
  appendEvents(roomId: string, plan: (tx: AppendTransaction) => void, options: AppendOptions = {}): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ roomId, plan, options, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flushAppends());
    });
  }

  private flushAppends(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) this.runBatch(batch, false);
  }

  /**
   * One transaction for the batch. Plans that fail do so before they write (the auth rules
   * refuse an event before it is appended), so a batch first runs without a savepoint per
   * plan: two statements less per event. A plan that fails after writing rolls the whole
   * batch back, and the batch runs again with `savepoints`, so that only that plan's events
   * are undone.
   */
  private runBatch(batch: readonly PendingAppend[], savepoints: boolean): void {
    const outcomes: ({ ok: true; result: AppendResult } | { ok: false; error: unknown })[] = [];
    let partial = false;
    try {
      this.batchTx(() => {
        for (const item of batch) {
          const before = this.writes;
          try {
            outcomes.push({ ok: true, result: savepoints
              ? this.appendNow(item.roomId, item.plan, item.options)
              : this.appendInTransaction(item.roomId, item.plan, item.options) });
          } catch (error) {
            // in a savepoint, the failed plan's writes are already undone
            if (!savepoints && this.writes !== before) {
              partial = true;
              throw error;
            }
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) this.forgetCached(item.roomId);
      if (partial) {
        this.runBatch(batch, true);
        return;
      }
      // the commit itself failed: nothing of the batch is stored
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.result);
      else item.reject(o.error);
    });
  }

  /** After a rollback: the cached state and depth may hold what was undone. */
  private forgetCached(roomId: string): void {
    this.stateCache.delete(roomId);
    this.depthCache.delete(roomId);
  }

  /** One append, synchronously: a transaction of its own, or a savepoint inside a batch's. */
  private appendNow(roomId: string, plan: (tx: AppendTransaction) => void, options: AppendOptions): AppendResult {
    try {
      return this.appendTx(roomId, plan, options);
    } catch (err) {
      // The plan may have applied events to the cached state before the rollback.
      this.forgetCached(roomId);
      throw err;
    }
  }

  private appendInTransaction(roomId: string, plan: (tx: AppendTransaction) => void, options: AppendOptions): AppendResult {
    {
      const txn = options.txn;
      if (txn) {
        const known = this.s.getTxn.get(txn.token, txn.txnId) as { event_id: string } | undefined;
        if (known) {
          const row = this.s.getEvent.get(known.event_id) as EventRow | undefined;
          if (row) return { events: [eventFromRow(row)], deduplicated: true };
        }
      }
      const state = this.loadState(roomId);
      const appended: PersistedEvent[] = [];
      const append = (ev: NewEvent): PersistedEvent => {
        if (ev.room_id !== roomId) throw new Error(`event for ${ev.room_id} appended to ${roomId}`);
        this.writes++;
        const isState = typeof ev.state_key === 'string';
        const prev = isState ? state.get(ev.type, ev.state_key) : undefined;
        const depth = this.nextDepth(roomId);
        const info = this.s.insertEvent.run(...eventColumns(ev, roomId, prev, depth));
        const persisted = appendedEvent(ev, roomId, prev, Number(info.lastInsertRowid), depth);
        this.depthCache.set(roomId, depth);
        if (isState) {
          this.s.upsertState.run(roomId, ev.type, ev.state_key, ev.event_id);
          if (ev.type === 'm.room.member' && typeof ev.content['membership'] === 'string') {
            this.s.upsertMembership.run(roomId, ev.state_key, ev.content['membership'], ev.event_id, persisted.stream_ordering);
          }
          state.set(persisted);
          if (state.size === 1) this.stateCache.set(roomId, state);
        }
        if (txn && appended.length === 0) this.s.insertTxn.run(txn.token, txn.txnId, ev.event_id, ev.origin_server_ts);
        appended.push(persisted);
        return persisted;
      };
      plan(new PlanTransaction(() => state, append));
      return { events: appended, deduplicated: false };
    }
  }

  async applyRedaction(targetEventId: string, redaction: RedactionSummary): Promise<void> {
    this.db.transaction(() => {
      const row = this.s.getEvent.get(targetEventId) as EventRow | undefined;
      if (!row) return;
      const ev = eventFromRow(row);
      if (ev.redacted_because) return;
      this.s.insertRedaction.run(targetEventId, redaction.event_id);
      this.s.redact.run(JSON.stringify(prunedContent(ev.type, ev.content)), unsignedJson({ prev_sender: ev.prev_sender, redacted_because: redaction }), targetEventId);
      // the state event that replaced this one must not leak its content as prev_content
      for (const succ of (this.s.successors.all(targetEventId) as EventRow[]).map(eventFromRow)) {
        if (succ.prev_content) this.s.setPrevContent.run(JSON.stringify(prunedContent(succ.type, succ.prev_content)), succ.event_id);
      }
    })();
    // cached state may hold the unredacted event
    const row = this.s.getEvent.get(targetEventId) as EventRow | undefined;
    if (row) this.stateCache.delete(row.room_id);
  }

  async currentStreamOrdering(): Promise<number> {
    return (this.s.maxStream.get() as { s: number | null }).s ?? 0;
  }

  async getEvent(eventId: string): Promise<PersistedEvent | null> {
    const row = this.s.getEvent.get(eventId) as EventRow | undefined;
    return row ? eventFromRow(row) : null;
  }

  async getEventIdForTxn(token: string, txnId: string): Promise<string | null> {
    return (this.s.getTxn.get(token, txnId) as { event_id: string } | undefined)?.event_id ?? null;
  }

  async roomExists(roomId: string): Promise<boolean> {
    return (await this.getRoom(roomId)) !== null;
  }

  async getRoom(roomId: string): Promise<RoomRecord | null> {
    const cached = this.roomCache.get(roomId);
    if (cached) return cached;
    const row = this.s.getRoom.get(roomId) as RoomRow | undefined;
    if (!row) return null;
    const room = roomFromRow(row);
    if (this.roomCache.size >= ROOM_CACHE_SIZE) this.roomCache.clear();
    this.roomCache.set(roomId, room);
    return room;
  }

  async createRoomRecord(room: RoomRecord): Promise<void> {
    this.s.insertRoom.run(room.roomId, room.creator, room.isPublic ? 1 : 0, room.createdTs);
    this.roomCache.delete(room.roomId);
  }

  async setRoomPublic(roomId: string, isPublic: boolean): Promise<void> {
    this.s.setPublic.run(isPublic ? 1 : 0, roomId);
    this.roomCache.delete(roomId);
  }

  async publicRooms(): Promise<RoomRecord[]> {
    return (this.s.publicRooms.all() as RoomRow[]).map(roomFromRow);
  }

  async getCurrentState(roomId: string): Promise<RoomState> {
    // a copy: the cached view changes with the next append
    return new RoomState(this.loadState(roomId).events());
  }

  async getCurrentStateEventsInRooms(roomIds: readonly string[]): Promise<Map<string, PersistedEvent[]>> {
    // From the state cache, without getCurrentState's RoomState copy per room: an array of
    // the same events (the cached view changes with the next append, an array does not).
    const out = new Map<string, PersistedEvent[]>();
    for (const roomId of roomIds) {
      const state = this.loadState(roomId);
      if (state.size > 0) out.set(roomId, [...state.events()]);
    }
    return out;
  }

  async getRooms(roomIds: readonly string[]): Promise<Map<string, RoomRecord>> {
    const out = new Map<string, RoomRecord>();
    for (const roomId of roomIds) {
      const room = await this.getRoom(roomId);
      if (room) out.set(roomId, room);
    }
    return out;
  }

  async getStateAt(roomId: string, streamOrdering: number): Promise<RoomState> {
    return new RoomState((this.s.stateAt.all(roomId, streamOrdering) as EventRow[]).map(eventFromRow));
  }

  async getMemberships(userId: string): Promise<RoomMembershipRow[]> {
    return (this.s.memberships.all(userId) as MembershipRow[]).map(membershipFromRow);
  }

  async getMembership(roomId: string, userId: string): Promise<RoomMembershipRow | null> {
    const row = this.s.membership.get(roomId, userId) as MembershipRow | undefined;
    return row ? membershipFromRow(row) : null;
  }

  async getRoomMembers(roomId: string, membership: Membership = 'join'): Promise<string[]> {
    return (this.s.members.all(roomId, membership) as { user_id: string }[]).map((r) => r.user_id);
  }

  async getMembershipEvents(roomId: string, userId: string, upToStream = Number.MAX_SAFE_INTEGER): Promise<PersistedEvent[]> {
    return (this.s.membershipEvents.all(roomId, userId, upToStream) as EventRow[]).map(eventFromRow);
  }

  async setForgotten(roomId: string, userId: string): Promise<void> {
    this.s.forget.run(roomId, userId);
  }

  async getEventsInStreamRange(roomIds: readonly string[], fromStream: number, toStream: number, limit: number): Promise<PersistedEvent[]> {
    if (roomIds.length === 0 || limit <= 0 || toStream <= fromStream) return [];
    const out: EventRow[] = [];
    // SQLite caps bound parameters; chunk the room list and merge.
    for (let i = 0; i < roomIds.length; i += 500) {
      const chunk = roomIds.slice(i, i + 500);
      const sql = `SELECT * FROM events WHERE stream_ordering > ? AND stream_ordering <= ? AND room_id IN (${chunk.map(() => '?').join(',')})
        ORDER BY stream_ordering LIMIT ?`;
      out.push(...(this.db.prepare(sql).all(fromStream, toStream, ...chunk, limit) as EventRow[]));
    }
    out.sort((a, b) => a.stream_ordering - b.stream_ordering);
    return out.slice(0, limit).map(eventFromRow);
  }

  async getRoomTimeline(roomId: string, from: TimelinePosition, dir: 'b' | 'f', limit: number, bound?: TimelinePosition): Promise<PersistedEvent[]> {
    if (limit <= 0) return [];
    const rows = dir === 'b'
      ? this.s.backward.all(roomId, from.topological, from.topological, from.stream,
        bound?.topological ?? -1, bound?.topological ?? -1, bound?.stream ?? -1, limit)
      : this.s.forward.all(roomId, from.topological, from.topological, from.stream,
        bound?.topological ?? Number.MAX_SAFE_INTEGER, bound?.topological ?? Number.MAX_SAFE_INTEGER, bound?.stream ?? Number.MAX_SAFE_INTEGER, limit);
    return (rows as EventRow[]).map(eventFromRow);
  }

  async timelinePositionAt(roomId: string, stream: number): Promise<TimelinePosition> {
    const row = this.s.positionAt.get(roomId, stream) as { t: number; s: number } | undefined;
    return row ? { topological: row.t, stream: row.s } : { topological: 0, stream: 0 };
  }

  async getAllMemberships(): Promise<RoomMembershipRow[]> {
    return (this.s.allMemberships.all() as MembershipRow[]).map(membershipFromRow);
  }

  async getLatestEvents(roomId: string, upToStream: number, limit: number): Promise<PersistedEvent[]> {
    if (limit <= 0) return [];
    return (this.s.latestEvents.all(roomId, upToStream, limit) as EventRow[]).reverse().map(eventFromRow);
  }

  async getLatestEventsInRooms(roomIds: readonly string[], upToStream: number, limit: number): Promise<Map<string, PersistedEvent[]>> {
    const out = new Map<string, PersistedEvent[]>();
    if (limit <= 0) return out;
    // one index seek per room on (room_id, stream_ordering), synchronously: no per-room round trip
    for (const roomId of roomIds) {
      const rows = this.s.latestEvents.all(roomId, upToStream, limit) as EventRow[];
      if (rows.length > 0) out.set(roomId, rows.reverse().map(eventFromRow));
    }
    return out;
  }

  async getStateHistory(roomId: string, type: string, stateKey: string, upToStream = Number.MAX_SAFE_INTEGER): Promise<PersistedEvent[]> {
    return (this.s.stateHistory.all(roomId, type, stateKey, upToStream) as EventRow[]).map(eventFromRow);
  }

  async getStateHistoryInRooms(roomIds: readonly string[], type: string, stateKey: string): Promise<Map<string, PersistedEvent[]>> {
    // in-process statements, each an index lookup (migration 12): one call for the caller, not one query
    const out = new Map<string, PersistedEvent[]>();
    for (const roomId of new Set(roomIds)) {
      const rows = this.s.stateHistory.all(roomId, type, stateKey, Number.MAX_SAFE_INTEGER) as EventRow[];
      if (rows.length > 0) out.set(roomId, rows.map(eventFromRow));
    }
    return out;
  }

  async createAlias(alias: string, roomId: string, creator: string): Promise<boolean> {
    return this.s.createAlias.run(alias, roomId, creator).changes === 1;
  }

  async getAlias(alias: string): Promise<{ roomId: string; creator: string } | null> {
    const row = this.s.getAlias.get(alias) as { room_id: string; creator: string } | undefined;
    return row ? { roomId: row.room_id, creator: row.creator } : null;
  }

  async deleteAlias(alias: string): Promise<boolean> {
    return this.s.deleteAlias.run(alias).changes === 1;
  }

  async aliasesForRoom(roomId: string): Promise<string[]> {
    return (this.s.roomAliases.all(roomId) as { alias: string }[]).map((r) => r.alias);
  }
}
