import type pg from 'pg';
import type { JsonObject, Membership, PersistedEvent, RedactionSummary } from '../../domain/events/types.js';
import { prunedContent } from '../../domain/events/redaction.js';
import { RoomState } from '../../domain/rooms/room-state.js';
import type {
  AppendOptions, AppendResult, AppendTransaction, EventStore, NewEvent, RoomMembershipRow, RoomRecord, TimelinePosition,
} from '../events.js';
import { PlanTransaction } from '../events.js';
import { appendedEvent, eventColumns, eventFromRow, membershipFromRow, roomFromRow, unsignedJson, type EventRow, type MembershipRow, type RoomRow } from '../rows.js';
import { encodeText, inTransaction, STREAM_LOCKS, textLiteral } from './pg-db.js';

/** Rooms whose state is kept in memory, as in SQLite. */
const STATE_CACHE_ROOMS = 2_000;

/** Events by room, each room's in the order given. */
function groupByRoom(events: readonly PersistedEvent[]): Map<string, PersistedEvent[]> {
  const out = new Map<string, PersistedEvent[]>();
  for (const ev of events) {
    const list = out.get(ev.room_id);
    if (list) list.push(ev);
    else out.set(ev.room_id, [ev]);
  }
  return out;
}
/** Room ids remembered as existing (about 100 bytes each); forgotten all at once beyond it. */
const KNOWN_ROOMS = 100_000;

interface CachedState {
  state: RoomState;
  /** room_state_versions.version the state was read at (or written as). */
  version: number;
}

interface PendingAppend {
  roomId: string;
  plan: (tx: AppendTransaction) => void;
  options: AppendOptions;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/** A room's running state within one batch: the appends before this one included. */
interface BatchRoom { depth: number; version: number; state: RoomState; stateChanged: boolean }

type Outcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

/** A batch's plans run: the rows to write, and what each append is answered. */
interface PlannedBatch {
  eventRows: unknown[][];
  stateRows: unknown[][];
  memberRows: unknown[][];
  outcomes: Outcome[];
}

/** The key of a (token, txnId) in a batch's map of known txns. */
const txnKey = (token: string, txnId: string): string => `${token}\u0000${txnId}`;

/** axon_append_batch's refusal when a room's state version moved (migration 8). */
const STATE_CHANGED = 'AXST1';
/** A txnId (events_txn, migration 9) another process, or an earlier attempt, committed. */
const UNIQUE_VIOLATION = '23505';

/** Appends per batch at most: bounds the size of the batch's statement. */
const MAX_BATCH = 128;

/**
 * With other processes listening, how long a batch may wait for the senders the previous
 * batch answered (see gather). GATHER_RECENT times as long is what counts as lately: the
 * last batch must have ended that recently, and the last wait that ran out of time longer
 * ago than that.
 */
const GATHER_MS = 1;
const GATHER_RECENT = 20;

export interface PgEventStoreOptions {
  /** Tests only: the gathering wait (GATHER_MS). */
  gatherMs?: number;
}

const EVENT_COLUMNS = ['stream_ordering', 'event_id', 'room_id', 'type', 'state_key', 'sender', 'content', 'origin_server_ts',
  'topological_ordering', 'redacts', 'unsigned', 'prev_content', 'replaces_state', 'txn_token_hash', 'txn_id'] as const;

/**
 * Builds one statement out of several INSERTs (data-modifying CTEs), with the values
 * written as literals: the batch's write and its COMMIT then go in one simple query, one
 * round trip (a statement with parameters needs the extended protocol, which takes one
 * statement per round trip). Strings are escaped as the parameters of every other query
 * are (textLiteral).
 */
class StatementBuilder {
  private readonly parts: string[] = [];

  private literal(v: unknown): string {
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'string') return textLiteral(v);
    if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    throw new TypeError(`no SQL literal for ${typeof v} ${String(v)}`);
  }

  values(rows: readonly (readonly unknown[])[]): string {
    return rows.map((row) => `(${row.map((v) => this.literal(v)).join(', ')})`).join(', ');
  }

  add(sql: string): void {
    this.parts.push(sql);
  }

  get empty(): boolean {
    return this.parts.length === 0;
  }

  sql(): string {
    if (this.parts.length === 1) return this.parts[0]!;
    const last = this.parts.at(-1)!;
    return `WITH ${this.parts.slice(0, -1).map((p, i) => `w${i} AS (${p})`).join(', ')} ${last}`;
  }
}

/**
 * Announces one-call batches to the other processes from inside the call that commits them
 * (migration 11), rather than by a NOTIFY of its own after it.
 */
export interface InBandNotice {
  /**
   * What the function is to send for a batch of these events (offsets from the stream's
   * head, in order), or null for nothing (no other process listens).
   */
  notice(events: readonly { offset: number; roomId: string; type: string }[]): JsonNotice | null;
  /** The batch's events up to `pos` were announced. */
  announced(pos: number): void;
  /**
   * Whether another process has been heard on the database since this one started (as
   * for `notice`): each batch's notice then reaches, wakes and costs every one of them,
   * and the store gathers larger batches (PgEventStore.gather).
   */
  peers(): boolean;
}

/** axon_append_batch's 'notify': the channel, the payload's prefix, the last offset and the named events. */
export interface JsonNotice {
  readonly channel: string;
  readonly prefix: string;
  readonly last: number;
  /** [offset, room id] of the events others may leave unread (replication/bus.ts). */
  readonly evs: readonly (readonly [number, string])[];
}

/**
 * Events, state and memberships on PostgreSQL, for any number of server processes on one
 * database. Every write to the event stream (appends, redactions) holds the global
 * advisory lock STREAM_LOCKS.events until it commits, which
 * - serialises appends per room (and globally), so a plan always sees the current state;
 * - makes commit order equal to stream order, so max(stream_ordering) is a persisted-up-to
 *   position: no process ever serves a position that another one has allocated but not
 *   committed.
 * Each process caches room state; room_state_versions tells it, under the lock or in one
 * query, whether its copy is still current.
 */
export class PgEventStore implements EventStore {
  private readonly stateCache = new Map<string, CachedState>();
  private inBand: InBandNotice | null = null;
  /** Rooms seen to exist: every send checks, and rooms are never deleted. */
  private readonly knownRooms = new Set<string>();

  private readonly gatherMs: number;

  constructor(private readonly pool: pg.Pool, options: PgEventStoreOptions = {}) {
    this.gatherMs = options.gatherMs ?? GATHER_MS;
  }

  /** Announces one-call batches through `notice` from now on (a multi-process deployment). */
  announceWith(notice: InBandNotice): void {
    this.inBand = notice;
  }

  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows as T[];
  }

  private async row<T>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }

  private cacheState(roomId: string, entry: CachedState | undefined): void {
    this.stateCache.delete(roomId);
    if (!entry || entry.state.size === 0) return;
    this.stateCache.set(roomId, entry);
    if (this.stateCache.size > STATE_CACHE_ROOMS) this.stateCache.delete(this.stateCache.keys().next().value!);
  }

  /** Current state rows and their version, read in one statement (one snapshot). */
  private async readState(q: pg.PoolClient | pg.Pool, roomId: string): Promise<CachedState> {
    const res = await q.query<EventRow & { _version: number | null }>(
      `SELECT (SELECT version FROM room_state_versions WHERE room_id = $1) AS _version, e.*
       FROM current_state c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = $1
       ORDER BY c.type COLLATE "C", c.state_key COLLATE "C"`, [roomId]);
    const version = res.rows[0]?._version ?? 0;
    return { state: new RoomState(res.rows.map(eventFromRow)), version };
  }

  /** Appends waiting for this process's next batch (see appendEvents). */
  private pending: PendingAppend[] = [];
  private flushing = false;
  /** The last batch settled: how many appends, how many were pending when it was, and when. */
  private lastBatch: { size: number; left: number; at: number } | undefined;
  /** A gather under way: the count of pending appends that ends it early. */
  private gathering: { target: number; done: () => void } | undefined;
  /** When a gather last ran out of time (its senders did not come back). */
  private gatherMissedAt = -Infinity;

  /**
   * Group commit. Appends in this process queue up while a batch is out; the next batch
   * takes them all (up to MAX_BATCH), in call order, into one transaction under the global
   * lock: each plan run in turn against the state the previous ones left (copy on write,
   * so a plan that throws is rolled back alone: its rows and positions are dropped and
   * nothing was sent), one write for the whole batch; then every promise settles. The
   * usual batch goes in one round trip (runOneRoundTrip), any other takes the lock first
   * (runLockedBatch). Stream order is call order with no gaps, commit order stays stream
   * order (one lock), a txnId seen earlier in the batch or committed by any process
   * deduplicates, and callers hear of their events (and notify) only after the commit.
   */
  appendEvents(roomId: string, plan: (tx: AppendTransaction) => void, options: AppendOptions = {}): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ roomId, plan, options, resolve, reject });
      if (this.gathering && this.pending.length >= this.gathering.target) this.gathering.done();
      if (!this.flushing) void this.flush();
    });
  }

  /**
   * With other processes on the database, waits (GATHER_MS at most) until the appends
   * pending number as many as took part in the last batch (its own and those pending when
   * it was settled): under load, the senders it answered are about to send again. Each
   * batch costs every process a notice to read, and PostgreSQL wakes every listening
   * backend for it; with three processes on two cores, batches half as large as the load
   * allowed were the limit (docs/benchmarks.md, ninth round).
   *
   * It waits only when that batch was recent and held more than one append, and when no
   * gather ran out of time lately: senders who do not come back at once (many users each
   * sending now and then, rather than a few sending in a loop) would otherwise add the
   * whole wait to batch after batch. A lone sender never waits. Alone, a process does not
   * wait either: its work overlaps the database's better with smaller batches than it
   * saves with larger ones.
   */
  private gather(): Promise<void> | undefined {
    const last = this.lastBatch;
    const now = performance.now();
    const recent = GATHER_RECENT * this.gatherMs;
    if (!last || last.size < 2 || now - last.at > recent || now - this.gatherMissedAt < recent || !this.inBand?.peers()) return undefined;
    const target = Math.min(MAX_BATCH, last.size + last.left);
    if (this.pending.length >= target) return undefined;
    return new Promise<void>((resolve) => {
      const done = (missed: boolean): void => {
        clearTimeout(timer);
        this.gathering = undefined;
        if (missed) this.gatherMissedAt = performance.now();
        resolve();
      };
      const timer = setTimeout(() => done(true), this.gatherMs);
      this.gathering = { target, done: () => done(false) };
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      // let the rest of this turn's appends join the first batch
      await new Promise<void>((r) => setImmediate(r));
      while (this.pending.length > 0) {
        await this.gather();
        const batch = this.pending.splice(0, MAX_BATCH);
        try {
          await this.runBatch(batch);
        } catch (err) {
          // The batch's SQL failed as a whole (nothing of it is stored). Each append again
          // on its own, so that one bad row fails only its own append.
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          for (const item of batch) {
            try {
              await this.runBatch([item]);
            } catch (e) {
              item.reject(e);
            }
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Batches committed by axon_append_batch in one round trip, and batches that took the
   * lock first (two round trips): a room not in the cache, a txnId whose plan refused or
   * wrote nothing, a string jsonb cannot hold, or the call refused (state changed by
   * another process, a txnId already committed).
   */
  readonly batchCounts = { oneRoundTrip: 0, locked: 0 };

  /** Settles each item of the batch, or throws (nothing settled) when its SQL fails. */
  private async runBatch(batch: readonly PendingAppend[]): Promise<void> {
    if (!(await this.runOneRoundTrip(batch))) await this.runLockedBatch(batch);
  }

  /**
   * Runs each plan in turn against the state the previous ones left (copy on write, so a
   * plan that throws is rolled back alone: its rows and positions are dropped), numbering
   * events from `startStream` + 1 and each room's depth from its `depth` + 1. Deduplicates txnIds
   * against `knownTxns` and against earlier items.
   */
  private planBatch(batch: readonly PendingAppend[], roomCtx: Map<string, BatchRoom>, startStream: number, knownTxns: Map<string, PersistedEvent>): PlannedBatch {
    let stream = startStream;
    const eventRows: unknown[][] = [];
    const stateRows = new Map<string, unknown[]>();
    const memberRows = new Map<string, unknown[]>();
    const outcomes: Outcome[] = [];
    for (const item of batch) {
      const { roomId, plan } = item;
      const txn = item.options.txn;
      const key = txn ? txnKey(txn.token, txn.txnId) : undefined;
      const known = key !== undefined ? knownTxns.get(key) : undefined;
      if (known) {
        outcomes.push({ ok: true, result: { events: [known], deduplicated: true } });
        continue;
      }
      const room = roomCtx.get(roomId)!;
      // this append's own rows and counters: merged into the batch only if its plan succeeds
      let itemStream = stream;
      let depth = room.depth;
      let state = room.state;
      let copied = false;
      const appended: PersistedEvent[] = [];
      const myEvents: unknown[][] = [];
      const myState: [string, unknown[]][] = [];
      const myMembers: [string, unknown[]][] = [];
      const append = (given: NewEvent): PersistedEvent => {
        if (given.room_id !== roomId) throw new Error(`event for ${given.room_id} appended to ${roomId}`);
        // The txnId is found through its event's columns (events_txn, migration 9): the
        // append's first event carries it. RoomService.send sets both already.
        const ev = txn && appended.length === 0 && (given.txn_id !== txn.txnId || given.txn_token !== txn.token)
          ? { ...given, txn_id: txn.txnId, txn_token: txn.token } : given;
        const isState = typeof ev.state_key === 'string';
        const prev = isState ? state.get(ev.type, ev.state_key) : undefined;
        depth += 1;
        itemStream += 1;
        myEvents.push([itemStream, ...eventColumns(ev, roomId, prev, depth)]);
        const persisted = appendedEvent(ev, roomId, prev, itemStream, depth);
        if (isState) {
          myState.push([`${roomId}\u0000${ev.type}\u0000${ev.state_key!}`, [roomId, ev.type, ev.state_key, ev.event_id]]);
          if (ev.type === 'm.room.member' && typeof ev.content['membership'] === 'string') {
            myMembers.push([`${roomId}\u0000${ev.state_key!}`, [roomId, ev.state_key, ev.content['membership'], ev.event_id, itemStream, false]]);
          }
          // Copy on write: the cached view, and the state the previous appends of the
          // batch left, stay untouched until this plan has succeeded.
          if (!copied) {
            state = new RoomState(state.events());
            copied = true;
          }
          state.set(persisted);
        }
        appended.push(persisted);
        return persisted;
      };
      try {
        plan(new PlanTransaction(() => state, append));
      } catch (error) {
        outcomes.push({ ok: false, error });
        continue;
      }
      stream = itemStream;
      room.depth = depth;
      if (copied) {
        room.state = state;
        room.stateChanged = true;
      }
      eventRows.push(...myEvents);
      for (const [k, row] of myState) { stateRows.delete(k); stateRows.set(k, row); }
      for (const [k, row] of myMembers) { memberRows.delete(k); memberRows.set(k, row); }
      if (txn && appended.length > 0) {
        knownTxns.set(key!, appended[0]!);
      }
      outcomes.push({ ok: true, result: { events: appended, deduplicated: false } });
    }
    return { eventRows, stateRows: [...stateRows.values()], memberRows: [...memberRows.values()], outcomes };
  }

  /**
   * Settles the batch's appends, and notes the batch for gather. The appends pending now
   * all arrived while it was out: none of its callers can append again before the
   * promises settled here have run their continuations.
   */
  private settle(batch: readonly PendingAppend[], outcomes: readonly Outcome[]): void {
    this.lastBatch = { size: batch.length, left: this.pending.length, at: performance.now() };
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.result);
      else item.reject(o.error);
    });
  }

  /**
   * The usual batch in one round trip and one statement, with the lock held only inside
   * the database (for as long as axon_append_batch runs and commits), not across a round
   * trip: plans run against the cached state, numbered from 0; the function takes the lock,
   * checks that no room's state version moved since the cache read it, numbers the rows
   * from the stream's and each room's head, writes them and commits. Returns false, with
   * nothing stored or settled, when the batch needs the locked path instead.
   */
  private async runOneRoundTrip(batch: readonly PendingAppend[]): Promise<boolean> {
    const roomCtx = new Map<string, BatchRoom>();
    for (const item of batch) {
      if (roomCtx.has(item.roomId)) continue;
      const cached = this.stateCache.get(item.roomId);
      if (!cached) return false;
      roomCtx.set(item.roomId, { depth: 0, version: cached.version, state: cached.state, stateChanged: false });
    }
    // a txnId repeated within the batch deduplicates in planBatch, as on the locked path
    const planned = this.planBatch(batch, roomCtx, 0, new Map());
    // Every room of the batch is checked, a refused append's and one that wrote nothing
    // too: a refusal or a no-op made on a stale cache is not an answer. A txnId is seen
    // only through the row an append writes for it, so a retry whose plan refused or
    // wrote nothing (the first attempt may have changed the state) is looked up there.
    const txnUnvouched = (o: Outcome, i: number): boolean => batch[i]!.options.txn !== undefined && !(o.ok && o.result.events.length > 0);
    if (planned.outcomes.some(txnUnvouched)) return false;
    const rooms = [...roomCtx].map(([id, r]) => [id, r.version, r.stateChanged]);
    const notify = this.inBand?.notice(planned.eventRows.map((r) => ({ offset: r[0] as number, roomId: r[2] as string, type: r[3] as string }))) ?? null;
    const json = JSON.stringify({
      rooms, events: planned.eventRows, state: planned.stateRows, members: planned.memberRows,
      ...(notify ? { notify } : {}),
    });
    // jsonb cannot hold U+0000 (written \u0000 by JSON.stringify); the locked path stores it escaped
    if (json.includes('\\u0000')) return false;
    let place: (ev: PersistedEvent) => [number, number];
    try {
      const res = await this.pool.query<{ r: { s: number; d: Record<string, number> } }>({
        name: 'axon_append_batch', text: 'SELECT axon_append_batch($1::jsonb) AS r', values: [json],
      });
      // room ids come back as the database holds them (encodeText)
      const heads = res.rows[0]!.r;
      place = (ev) => [ev.stream_ordering + heads.s, ev.topological_ordering + heads.d[encodeText(ev.room_id)]!];
      if (notify) this.inBand!.announced(heads.s + notify.last);
    } catch (err) {
      // The function refused (state moved, a txnId another process committed): nothing
      // was stored, and the locked path plans again from the database's view.
      const code = (err as { code?: unknown }).code;
      if (code === STATE_CHANGED || code === UNIQUE_VIOLATION) return false;
      // Anything else (a connection lost) may have come after the commit, which happens
      // as the call ends: the batch's rows say whether it did. Planning it again when it
      // did would store every append twice.
      const ids = planned.eventRows.map((r) => r[1] as string);
      let stored: { event_id: string; stream_ordering: number; topological_ordering: number }[];
      try {
        stored = (await this.pool.query<{ event_id: string; stream_ordering: number; topological_ordering: number }>(
          'SELECT event_id, stream_ordering, topological_ordering FROM events WHERE event_id = ANY($1::text[])', [ids])).rows;
      } catch {
        throw err;
      }
      if (stored.length === 0) return false;
      if (stored.length !== ids.length) throw err;
      const at = new Map(stored.map((r) => [r.event_id, [r.stream_ordering, r.topological_ordering] as [number, number]]));
      place = (ev) => at.get(ev.event_id)!;
    }
    for (const o of planned.outcomes) {
      if (!o.ok || o.result.deduplicated) continue;
      for (const ev of o.result.events) {
        const [stream, depth] = place(ev);
        (ev as { stream_ordering: number }).stream_ordering = stream;
        (ev as { topological_ordering: number }).topological_ordering = depth;
      }
    }
    for (const [roomId, room] of roomCtx) {
      if (room.stateChanged) this.cacheState(roomId, { state: room.state, version: room.version + 1 });
    }
    this.batchCounts.oneRoundTrip += 1;
    this.settle(batch, planned.outcomes);
    return true;
  }

  /** One transaction that takes the lock and reads the heads first, then plans and writes. */
  private async runLockedBatch(batch: readonly PendingAppend[]): Promise<void> {
    this.batchCounts.locked += 1;
    const client = await this.pool.connect();
    let broken = false;
    try {
      const rooms = [...new Set(batch.map((i) => i.roomId))];
      const txns = batch.flatMap((i) => (i.options.txn ? [i.options.txn] : []));
      // One round trip: the lock, then the heads and the known txns. Each statement of a
      // simple query takes its own snapshot (READ COMMITTED), so the reads after the lock
      // see every commit before it.
      const results = await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${STREAM_LOCKS.events});
        SELECT r.room_id, (SELECT max(stream_ordering) FROM events) AS s,
          (SELECT max(topological_ordering) FROM events WHERE room_id = r.room_id) AS d,
          (SELECT version FROM room_state_versions WHERE room_id = r.room_id) AS v
        FROM (VALUES ${rooms.map((r) => `(${textLiteral(r)})`).join(', ')}) AS r(room_id);
        ${txns.length > 0
    ? `SELECT * FROM events WHERE (txn_token_hash, txn_id) IN (${txns.map((t) => `(${textLiteral(t.token)}, ${textLiteral(t.txnId)})`).join(', ')})`
    : 'SELECT 1 WHERE FALSE'}`) as unknown as pg.QueryResult[];
      const heads = results[2]!.rows as { room_id: string; s: number | null; d: number | null; v: number | null }[];
      const knownTxns = new Map<string, PersistedEvent>();
      for (const row of results[3]!.rows as EventRow[]) knownTxns.set(txnKey(row.txn_token_hash!, row.txn_id!), eventFromRow(row));
      const stream = heads[0]?.s ?? 0;
      const roomCtx = new Map<string, BatchRoom>();
      for (const h of heads) {
        const version = h.v ?? 0;
        let cached = this.stateCache.get(h.room_id);
        if (!cached || cached.version !== version) {
          cached = version === 0 ? { state: new RoomState(), version: 0 } : await this.readState(client, h.room_id);
          this.cacheState(h.room_id, cached);
        }
        roomCtx.set(h.room_id, { depth: h.d ?? 0, version, state: cached.state, stateChanged: false });
      }

      const { eventRows, stateRows, memberRows, outcomes } = this.planBatch(batch, roomCtx, stream, knownTxns);
      const changedRooms = [...roomCtx].filter(([, r]) => r.stateChanged).map(([id]) => id);
      // the rows axon_append_batch numbers depths from (migration 9)
      const depthRows = heads.flatMap((h) => {
        const room = roomCtx.get(h.room_id)!;
        return room.depth !== (h.d ?? 0) ? [[h.room_id, room.depth]] : [];
      });
      const newVersions = new Map<string, number>();
      if (eventRows.length > 0) {
        const b = new StatementBuilder();
        b.add(`INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES ${b.values(eventRows)}`);
        if (stateRows.length > 0) {
          b.add(`INSERT INTO current_state (room_id, type, state_key, event_id) VALUES ${b.values(stateRows)}
            ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`);
        }
        if (memberRows.length > 0) {
          b.add(`INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering, forgotten)
            VALUES ${b.values(memberRows)}
            ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
            stream_ordering = excluded.stream_ordering, forgotten = FALSE`);
        }
        b.add(`INSERT INTO room_depths (room_id, depth) VALUES ${b.values(depthRows)}
          ON CONFLICT (room_id) DO UPDATE SET depth = excluded.depth`);
        if (changedRooms.length > 0) {
          b.add(`INSERT INTO room_state_versions (room_id, version) VALUES ${b.values(changedRooms.map((r) => [r, 1]))}
            ON CONFLICT (room_id) DO UPDATE SET version = room_state_versions.version + 1 RETURNING room_id, version`);
        }
        const [res] = await client.query(`${b.sql()}; COMMIT`) as unknown as pg.QueryResult<{ room_id?: string; version?: number }>[];
        if (changedRooms.length > 0) for (const r of res!.rows) newVersions.set(r.room_id!, r.version!);
      } else {
        await client.query('COMMIT');
      }
      for (const roomId of changedRooms) {
        const room = roomCtx.get(roomId)!;
        const v = newVersions.get(roomId);
        this.cacheState(roomId, v === room.version + 1 ? { state: room.state, version: v } : undefined);
      }
      this.settle(batch, outcomes);
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async applyRedaction(targetEventId: string, redaction: RedactionSummary): Promise<void> {
    const roomId = await inTransaction(this.pool, async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock(${STREAM_LOCKS.events})`);
      const row = (await c.query<EventRow>('SELECT * FROM events WHERE event_id = $1', [targetEventId])).rows[0];
      if (!row) return null;
      const ev = eventFromRow(row);
      if (ev.redacted_because) return ev.room_id;
      await c.query('INSERT INTO redactions (event_id, redaction_event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [targetEventId, redaction.event_id]);
      await c.query('UPDATE events SET content = $1, unsigned = $2, redacts = NULL WHERE event_id = $3', [
        JSON.stringify(prunedContent(ev.type, ev.content)), unsignedJson({ prev_sender: ev.prev_sender, redacted_because: redaction }), targetEventId,
      ]);
      // the state event that replaced this one must not leak its content as prev_content
      const successors = (await c.query<EventRow>('SELECT * FROM events WHERE replaces_state = $1', [targetEventId])).rows.map(eventFromRow);
      for (const succ of successors) {
        if (succ.prev_content) {
          await c.query('UPDATE events SET prev_content = $1 WHERE event_id = $2', [JSON.stringify(prunedContent(succ.type, succ.prev_content)), succ.event_id]);
        }
      }
      // every process's cached state of the room may hold the unredacted event
      if (ev.state_key !== undefined) {
        await c.query(`INSERT INTO room_state_versions (room_id, version) VALUES ($1, 1)
          ON CONFLICT (room_id) DO UPDATE SET version = room_state_versions.version + 1`, [ev.room_id]);
      }
      return ev.room_id;
    });
    if (roomId !== null) this.stateCache.delete(roomId);
  }

  async currentStreamOrdering(): Promise<number> {
    return (await this.row<{ s: number | null }>('SELECT max(stream_ordering) AS s FROM events'))?.s ?? 0;
  }

  async getEvent(eventId: string): Promise<PersistedEvent | null> {
    const row = await this.row<EventRow>('SELECT * FROM events WHERE event_id = $1', [eventId]);
    return row ? eventFromRow(row) : null;
  }

  async getEventIdForTxn(token: string, txnId: string): Promise<string | null> {
    return (await this.row<{ event_id: string }>('SELECT event_id FROM events WHERE txn_token_hash = $1 AND txn_id = $2', [token, txnId]))?.event_id ?? null;
  }

  async roomExists(roomId: string): Promise<boolean> {
    if (this.knownRooms.has(roomId)) return true;
    if (!(await this.row('SELECT 1 FROM rooms WHERE room_id = $1', [roomId]))) return false;
    if (this.knownRooms.size >= KNOWN_ROOMS) this.knownRooms.clear();
    this.knownRooms.add(roomId);
    return true;
  }

  async getRoom(roomId: string): Promise<RoomRecord | null> {
    const row = await this.row<RoomRow>('SELECT * FROM rooms WHERE room_id = $1', [roomId]);
    return row ? roomFromRow(row) : null;
  }

  async createRoomRecord(room: RoomRecord): Promise<void> {
    await this.pool.query('INSERT INTO rooms (room_id, creator, is_public, created_ts) VALUES ($1, $2, $3, $4) ON CONFLICT (room_id) DO NOTHING',
      [room.roomId, room.creator, room.isPublic, room.createdTs]);
  }

  async setRoomPublic(roomId: string, isPublic: boolean): Promise<void> {
    await this.pool.query('UPDATE rooms SET is_public = $1 WHERE room_id = $2', [isPublic, roomId]);
  }

  async publicRooms(): Promise<RoomRecord[]> {
    return (await this.rows<RoomRow>('SELECT * FROM rooms WHERE is_public ORDER BY created_ts, room_id COLLATE "C"')).map(roomFromRow);
  }

  async getCurrentState(roomId: string): Promise<RoomState> {
    const cached = this.stateCache.get(roomId);
    if (cached) {
      const v = (await this.row<{ version: number }>('SELECT version FROM room_state_versions WHERE room_id = $1', [roomId]))?.version ?? 0;
      if (v === cached.version) {
        this.stateCache.delete(roomId);
        this.stateCache.set(roomId, cached);
        // a copy: the cached view is replaced by the next append
        return new RoomState(cached.state.events());
      }
    }
    const fresh = await this.readState(this.pool, roomId);
    this.cacheState(roomId, fresh);
    return new RoomState(fresh.state.events());
  }

  async getCurrentStateEventsInRooms(roomIds: readonly string[]): Promise<Map<string, PersistedEvent[]>> {
    const out = new Map<string, PersistedEvent[]>();
    if (roomIds.length === 0) return out;
    // Two round trips for any number of rooms (getCurrentState takes one or two per room):
    // the versions of the cached ones, then the state of every other one, read and
    // versioned in one statement as readState does.
    const cachedIds = roomIds.filter((r) => this.stateCache.has(r));
    const versions = new Map<string, number>();
    if (cachedIds.length > 0) {
      for (const r of await this.rows<{ room_id: string; version: number }>(
        'SELECT room_id, version FROM room_state_versions WHERE room_id = ANY($1::text[])', [cachedIds])) versions.set(r.room_id, r.version);
    }
    const stale: string[] = [];
    for (const roomId of roomIds) {
      const cached = this.stateCache.get(roomId);
      if (cached && (versions.get(roomId) ?? 0) === cached.version) {
        this.cacheState(roomId, cached);
        if (cached.state.size > 0) out.set(roomId, [...cached.state.events()]);
      } else stale.push(roomId);
    }
    if (stale.length === 0) return out;
    const rows = await this.rows<EventRow & { _version: number | null }>(
      `SELECT (SELECT version FROM room_state_versions v WHERE v.room_id = c.room_id) AS _version, e.*
       FROM current_state c JOIN events e ON e.event_id = c.event_id WHERE c.room_id = ANY($1::text[])
       ORDER BY c.room_id COLLATE "C", c.type COLLATE "C", c.state_key COLLATE "C"`, [stale]);
    const byRoom = new Map<string, { events: PersistedEvent[]; version: number }>();
    for (const row of rows) {
      let entry = byRoom.get(row.room_id);
      if (!entry) byRoom.set(row.room_id, (entry = { events: [], version: row._version ?? 0 }));
      entry.events.push(eventFromRow(row));
    }
    for (const roomId of stale) {
      const entry = byRoom.get(roomId);
      if (!entry) {
        this.cacheState(roomId, undefined);
        continue;
      }
      this.cacheState(roomId, { state: new RoomState(entry.events), version: entry.version });
      out.set(roomId, entry.events);
    }
    return out;
  }

  async getRooms(roomIds: readonly string[]): Promise<Map<string, RoomRecord>> {
    const out = new Map<string, RoomRecord>();
    if (roomIds.length === 0) return out;
    for (const row of await this.rows<RoomRow>('SELECT * FROM rooms WHERE room_id = ANY($1::text[])', [[...roomIds]])) {
      const room = roomFromRow(row);
      out.set(room.roomId, room);
    }
    return out;
  }

  async getStateAt(roomId: string, streamOrdering: number): Promise<RoomState> {
    const rows = await this.rows<EventRow>(`SELECT e.* FROM events e JOIN (
        SELECT max(stream_ordering) AS so FROM events
        WHERE room_id = $1 AND state_key IS NOT NULL AND stream_ordering <= $2 GROUP BY type, state_key
      ) last ON last.so = e.stream_ordering ORDER BY e.type COLLATE "C", e.state_key COLLATE "C"`, [roomId, streamOrdering]);
    return new RoomState(rows.map(eventFromRow));
  }

  async getMemberships(userId: string): Promise<RoomMembershipRow[]> {
    return (await this.rows<MembershipRow>('SELECT * FROM room_memberships WHERE user_id = $1 ORDER BY stream_ordering', [userId])).map(membershipFromRow);
  }

  async getAllMemberships(): Promise<RoomMembershipRow[]> {
    return (await this.rows<MembershipRow>('SELECT * FROM room_memberships')).map(membershipFromRow);
  }

  async getLatestEvents(roomId: string, upToStream: number, limit: number): Promise<PersistedEvent[]> {
    if (limit <= 0) return [];
    return (await this.rows<EventRow>('SELECT * FROM events WHERE room_id = $1 AND stream_ordering <= $2 ORDER BY stream_ordering DESC LIMIT $3',
      [roomId, upToStream, limit])).reverse().map(eventFromRow);
  }

  async getLatestEventsInRooms(roomIds: readonly string[], upToStream: number, limit: number): Promise<Map<string, PersistedEvent[]>> {
    if (limit <= 0 || roomIds.length === 0) return new Map();
    // one round trip: a LATERAL index scan per room, newest first
    const rows = await this.rows<EventRow>(`SELECT e.* FROM unnest($1::text[]) AS r(room_id)
      CROSS JOIN LATERAL (SELECT * FROM events WHERE room_id = r.room_id AND stream_ordering <= $2
        ORDER BY stream_ordering DESC LIMIT $3) e`, [[...roomIds], upToStream, limit]);
    const out = groupByRoom(rows.map(eventFromRow));
    for (const list of out.values()) list.sort((a, b) => a.stream_ordering - b.stream_ordering);
    return out;
  }

  async getStateHistory(roomId: string, type: string, stateKey: string, upToStream = Number.MAX_SAFE_INTEGER): Promise<PersistedEvent[]> {
    return (await this.rows<EventRow>(`SELECT * FROM events WHERE room_id = $1 AND type = $2 AND state_key = $3 AND stream_ordering <= $4
      ORDER BY stream_ordering`, [roomId, type, stateKey, upToStream])).map(eventFromRow);
  }

  async getStateHistoryInRooms(roomIds: readonly string[], type: string, stateKey: string): Promise<Map<string, PersistedEvent[]>> {
    if (roomIds.length === 0) return new Map();
    return groupByRoom((await this.rows<EventRow>(`SELECT * FROM events WHERE room_id = ANY($1::text[]) AND type = $2 AND state_key = $3
      ORDER BY stream_ordering`, [[...new Set(roomIds)], type, stateKey])).map(eventFromRow));
  }

  async getMembership(roomId: string, userId: string): Promise<RoomMembershipRow | null> {
    const row = await this.row<MembershipRow>('SELECT * FROM room_memberships WHERE room_id = $1 AND user_id = $2', [roomId, userId]);
    return row ? membershipFromRow(row) : null;
  }

  async getRoomMembers(roomId: string, membership: Membership = 'join'): Promise<string[]> {
    return (await this.rows<{ user_id: string }>(
      'SELECT user_id FROM room_memberships WHERE room_id = $1 AND membership = $2 ORDER BY user_id COLLATE "C"', [roomId, membership],
    )).map((r) => r.user_id);
  }

  async getMembershipEvents(roomId: string, userId: string, upToStream = Number.MAX_SAFE_INTEGER): Promise<PersistedEvent[]> {
    return (await this.rows<EventRow>(`SELECT * FROM events WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2
      AND stream_ordering <= $3 ORDER BY stream_ordering`, [roomId, userId, upToStream])).map(eventFromRow);
  }

  async setForgotten(roomId: string, userId: string): Promise<void> {
    await this.pool.query('UPDATE room_memberships SET forgotten = TRUE WHERE room_id = $1 AND user_id = $2', [roomId, userId]);
  }

  async getEventsInStreamRange(roomIds: readonly string[], fromStream: number, toStream: number, limit: number): Promise<PersistedEvent[]> {
    if (roomIds.length === 0 || limit <= 0 || toStream <= fromStream) return [];
    return (await this.rows<EventRow>(`SELECT * FROM events WHERE stream_ordering > $1 AND stream_ordering <= $2 AND room_id = ANY($3::text[])
      ORDER BY stream_ordering LIMIT $4`, [fromStream, toStream, roomIds, limit])).map(eventFromRow);
  }

  async getRoomTimeline(roomId: string, from: TimelinePosition, dir: 'b' | 'f', limit: number, bound?: TimelinePosition): Promise<PersistedEvent[]> {
    if (limit <= 0) return [];
    const rows = dir === 'b'
      ? await this.rows<EventRow>(`SELECT * FROM events WHERE room_id = $1
          AND (topological_ordering < $2 OR (topological_ordering = $2 AND stream_ordering <= $3))
          AND (topological_ordering > $4 OR (topological_ordering = $4 AND stream_ordering > $5))
          ORDER BY topological_ordering DESC, stream_ordering DESC LIMIT $6`,
      [roomId, from.topological, from.stream, bound?.topological ?? -1, bound?.stream ?? -1, limit])
      : await this.rows<EventRow>(`SELECT * FROM events WHERE room_id = $1
          AND (topological_ordering > $2 OR (topological_ordering = $2 AND stream_ordering > $3))
          AND (topological_ordering < $4 OR (topological_ordering = $4 AND stream_ordering <= $5))
          ORDER BY topological_ordering, stream_ordering LIMIT $6`,
      [roomId, from.topological, from.stream, bound?.topological ?? Number.MAX_SAFE_INTEGER, bound?.stream ?? Number.MAX_SAFE_INTEGER, limit]);
    return rows.map(eventFromRow);
  }

  async timelinePositionAt(roomId: string, stream: number): Promise<TimelinePosition> {
    const row = await this.row<{ t: number; s: number }>(`SELECT topological_ordering AS t, stream_ordering AS s FROM events
      WHERE room_id = $1 AND stream_ordering <= $2 ORDER BY stream_ordering DESC LIMIT 1`, [roomId, stream]);
    return row ? { topological: row.t, stream: row.s } : { topological: 0, stream: 0 };
  }

  async createAlias(alias: string, roomId: string, creator: string): Promise<boolean> {
    const r = await this.pool.query('INSERT INTO room_aliases (alias, room_id, creator) VALUES ($1, $2, $3) ON CONFLICT (alias) DO NOTHING', [alias, roomId, creator]);
    return r.rowCount === 1;
  }

  async getAlias(alias: string): Promise<{ roomId: string; creator: string } | null> {
    const row = await this.row<{ room_id: string; creator: string }>('SELECT room_id, creator FROM room_aliases WHERE alias = $1', [alias]);
    return row ? { roomId: row.room_id, creator: row.creator } : null;
  }

  async deleteAlias(alias: string): Promise<boolean> {
    return (await this.pool.query('DELETE FROM room_aliases WHERE alias = $1', [alias])).rowCount === 1;
  }

  async aliasesForRoom(roomId: string): Promise<string[]> {
    return (await this.rows<{ alias: string }>('SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias COLLATE "C"', [roomId])).map((r) => r.alias);
  }
}
