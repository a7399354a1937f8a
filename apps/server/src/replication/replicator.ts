import pg from 'pg';
import type { PersistedEvent, JsonObject } from '../domain/events/types.js';
import type { SyncService } from '../domain/sync/sync-service.js';
import type { Logger } from '../logging.js';
import type { EventStore } from '../storage/events.js';
import type { StreamStore } from '../storage/streams.js';
import { escapeTextParams, pgTypes } from '../storage/postgres/pg-db.js';
import { eventFromRow } from '../storage/rows.js';
import type { InBandNotice } from '../storage/postgres/pg-events.js';
import { withinBudget, type NamedEvent, type ReplicationBus, type ReplicationMessage } from './bus.js';

type EventRow = Parameters<typeof eventFromRow>[0];

/**
 * Whether other processes may leave this event unread: feeding it changes nothing they
 * keep but caches (SyncService.onPersisted's special cases are memberships and redactions).
 */
function leavableUnread(e: { readonly type: string }): boolean {
  return e.type !== 'm.room.member' && e.type !== 'm.room.redaction';
}

/** A presence hold's rank for a process (PresenceHold): its bus id (16 hex digits) read as a fraction in [0, 1). */
export function holderRank(origin: string): number {
  return Number.parseInt(origin.slice(0, 13), 16) / 2 ** 52;
}

/** How often a process checks the database for events it was not told about (lost NOTIFYs). */
const SAFETY_POLL_MS = 2_000;
const BATCH = 500;
/**
 * How long a position no notice has covered yet may hold up the feed before it is read from
 * the database anyway: its writer's notice is on its way (on another stream, or a NOTIFY
 * behind this process's own commit), or was lost.
 */
const GAP_WAIT_MS = 25;
/** Own events kept for feeding at most; beyond that (feeding stalled) they are read back. */
const MAX_OWN = 10_000;

/**
 * Makes N server processes on one PostgreSQL database act as one homeserver.
 *
 * Room events: every process feeds its SyncService (notifier, membership index, recent
 * events) strictly in stream order, from one queue: its own appends are fed as they are,
 * and the other processes' events in between are read from the database, where every
 * position up to the newest is committed (PgEventStore's global lock). So a process never
 * announces a position before everything below it is committed and indexed, and its
 * /events answers are the same as any other process's.
 *
 * Receipts, account data and presence are stored with positions allocated the same way, so
 * a message carries a committed position and whom to wake. Typing is not stored: each
 * process applies the others' typing changes to its own in-memory stream.
 */
export class Replicator {
  private sync: SyncService | null = null;
  private last = 0;
  private queue: Promise<void> = Promise.resolve();
  /** This process's own events, not fed yet: fed as they are, never read back. */
  private readonly own = new Map<number, PersistedEvent>();
  /**
   * Other processes' events named in their notices as safe to leave unread (position to
   * room id): not read unless this process serves the room (SyncService.servesRoom).
   */
  private readonly named = new Map<number, string>();
  /**
   * Other processes' positions their notices covered (`from`): those not named are read at
   * once. A position none covers, above `readThrough`, is waited for (GAP_WAIT_MS) rather
   * than read: with several writers, one's notice can arrive before an earlier one's.
   */
  private readonly covered = new Set<number>();
  /** Up to here every position counts as covered: notices without `from` (NOTIFY in band, earlier versions, onPeer). */
  private readThrough = 0;
  /** The position the feed waits at, since when, and the timer that reads it anyway. */
  private gap: { at: number; since: number; timer: ReturnType<typeof setTimeout> } | null = null;
  /** The newest position any ingest was asked to reach: one that stopped at a gap goes on from there later. */
  private target = 0;
  /** The newest position this process committed (announced to a peer first heard: onPeer). */
  private ownHigh = 0;
  /** The newest position the event store announced in band (inBandNotice). */
  private announcedHigh = 0;
  private safetyTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private readonly reader: pg.Pool;

  constructor(private readonly bus: ReplicationBus, url: string, private readonly logger: Logger) {
    this.reader = new pg.Pool({
      connectionString: url,
      max: 2,
      application_name: 'axon-replication',
      types: pgTypes,
    });
    this.reader.on('connect', escapeTextParams);
    this.reader.on('error', () => {});
  }

  /** The event store every writer uses: a redaction, once applied, is announced. */
  wrapEvents(store: EventStore): EventStore {
    const bus = this.bus;
    return new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'applyRedaction') {
          return async (eventId: string, redaction: Parameters<EventStore['applyRedaction']>[1]) => {
            await target.applyRedaction(eventId, redaction);
            bus.publish({ t: 'redacted', eventId });
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** The stream store the sync streams use: each committed write is announced. */
  wrapStreams(store: StreamStore): StreamStore {
    const bus = this.bus;
    return new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'putReceipt') {
          return async (r: Parameters<StreamStore['putReceipt']>[0]) => {
            const pos = await target.putReceipt(r);
            bus.publish({ t: 'receipt', pos, roomId: r.roomId });
            return pos;
          };
        }
        if (prop === 'putAccountData') {
          return async (userId: string, roomId: string | null, type: string, content: JsonObject) => {
            const pos = await target.putAccountData(userId, roomId, type, content);
            bus.publish({ t: 'account_data', pos, userId });
            return pos;
          };
        }
        if (prop === 'putPresence') {
          return async (p: Parameters<StreamStore['putPresence']>[0]) => {
            const pos = await target.putPresence(p);
            bus.publish({ t: 'presence', pos, userId: p.userId });
            return pos;
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** Starts replicating into `sync` (created from the wrapped stores). */
  attach(sync: SyncService): void {
    this.sync = sync;
    this.last = sync.currentToken().room.stream;
    const typing = sync.streams.typing;
    const setTyping = typing.setTyping.bind(typing);
    typing.setTyping = (roomId: string, userId: string, isTyping: boolean, timeoutMs = 30_000): number => {
      const pos = setTyping(roomId, userId, isTyping, timeoutMs);
      if (!this.closed) this.bus.publish({ t: 'typing', roomId, userId, typing: isTyping, timeoutMs });
      return pos;
    };
    const presence = sync.streams.presence;
    // holds carry this process's id, so that the others know which were its when it goes
    if (this.bus.origin !== undefined) presence.identify(holderRank(this.bus.origin));
    presence.share = ({ record, hold, seen }) => {
      if (!this.closed) this.bus.publish({ t: 'presence_state', ...record, ...(hold ? { hold } : {}), ...(seen !== undefined ? { seen } : {}) });
    };
    this.bus.onPeerGone?.((origin) => presence.holderGone(holderRank(origin)));
    // the users the others hold, which this process's sweep would otherwise take for left online by a previous run
    this.bus.publish({ t: 'presence_ask' });
    this.bus.onMessage((m) => this.onMessage(m, setTyping));
    this.bus.onReconnect(() => {
      this.catchUp();
      // claims made while the bus was down may be lost: the others may each think they hold
      presence.shareHolds();
    });
    // what this process committed while it thought itself alone, fed yet or not
    this.bus.onPeer?.(() => {
      const pos = Math.max(this.last, this.ownHigh);
      if (pos > 0) this.bus.publish({ t: 'events', pos });
    });
    this.safetyTimer = setInterval(() => this.catchUp(), SAFETY_POLL_MS);
    this.safetyTimer.unref?.();
    // events committed between the sync service's start and now
    this.catchUp();
  }

  /**
   * The event store's in-band announcements (PgEventStore.announceWith): one-call batches
   * carry their own notice, sent by the function that commits them, so that they need no
   * NOTIFY after it.
   */
  inBandNotice(): InBandNotice {
    return {
      notice: (events) => {
        const target = this.bus.noticeTarget?.();
        // A redaction is announced once applied (RoomService applies it after the commit),
        // as onLocalPersisted does, so that others seldom read the redaction before it.
        if (!target || events.length === 0 || events.some((e) => e.type === 'm.room.redaction')) return null;
        const evs = withinBudget(events.filter(leavableUnread).map((e): NamedEvent => [e.offset, e.roomId]));
        return { ...target, last: events.at(-1)!.offset, evs };
      },
      announced: (pos) => {
        this.bus.sentInBand?.();
        if (pos > this.announcedHigh) this.announcedHigh = pos;
      },
      peers: () => this.bus.hasPeers ?? this.bus.noticeTarget?.() != null,
    };
  }

  /** RoomService's onPersisted in a multi-process deployment. */
  onLocalPersisted(events: readonly PersistedEvent[]): void {
    if (events.length === 0) return;
    if (this.own.size + events.length > MAX_OWN) this.own.clear();
    for (const e of events) this.own.set(e.stream_ordering, e);
    const pos = events.at(-1)!.stream_ordering;
    if (pos > this.ownHigh) this.ownHigh = pos;
    this.enqueue(pos);
    // announced already by the call that committed them
    if (pos <= this.announcedHigh) return;
    const evs = events.filter(leavableUnread).map((e): NamedEvent => [e.stream_ordering, e.room_id]);
    // which positions this notice covers, when they are one run (a batch's are)
    const from = events[0]!.stream_ordering - 1;
    const run = events.every((e, i) => e.stream_ordering === from + 1 + i);
    this.bus.publish({ t: 'events', pos, ...(run ? { from } : {}), ...(evs.length > 0 ? { evs } : {}) });
  }

  private onMessage(m: ReplicationMessage, setTyping: (roomId: string, userId: string, typing: boolean, timeoutMs?: number) => number): void {
    const sync = this.sync;
    if (!sync || this.closed) return;
    switch (m.t) {
      case 'events':
        if (m.evs) {
          if (this.named.size + m.evs.length > MAX_OWN) this.named.clear();
          for (const [pos, roomId] of m.evs) if (pos > this.last) this.named.set(pos, roomId);
        }
        // a run longer than the set keeps (nothing Axon sends; a forged NOTIFY) counts as one without `from`
        if (m.from === undefined || m.pos - m.from > MAX_OWN) {
          if (m.pos > this.readThrough) this.readThrough = m.pos;
        } else {
          if (this.covered.size + (m.pos - m.from) > MAX_OWN) this.covered.clear();
          for (let pos = Math.max(m.from, this.last) + 1; pos <= m.pos; pos++) this.covered.add(pos);
        }
        this.enqueue(m.pos);
        break;
      case 'redacted':
        // after the queue, so that the target, if it is still being fed, is forgotten
        // after it. The redaction event may have been read before this message (another
        // batch's notice can cover it before the writer has applied the redaction), so
        // what was read of the target meanwhile is forgotten here.
        this.queue = this.queue.then(() => this.redacted(m.eventId)).catch((err: unknown) => this.failed(err));
        break;
      case 'receipt':
        sync.notifier.onNewEvent('receipt', m.pos, { rooms: [m.roomId] });
        break;
      case 'account_data':
        sync.notifier.onNewEvent('account_data', m.pos, { users: [m.userId] });
        break;
      case 'presence':
        sync.notifier.onNewEvent('presence', m.pos, { users: [m.userId], rooms: sync.membership.joinedRooms(m.userId) });
        break;
      case 'presence_state': {
        const { userId, presence, statusMsg, lastActiveTs, streamId, hold, seen } = m;
        sync.streams.presence.applyShared({
          record: { userId, presence, statusMsg, lastActiveTs, streamId }, ...(hold ? { hold } : {}), ...(seen !== undefined ? { seen } : {}),
        });
        break;
      }
      case 'presence_ask':
        sync.streams.presence.shareHolds();
        break;
      case 'typing':
        setTyping(m.roomId, m.userId, m.typing, m.timeoutMs);
        break;
    }
  }

  private catchUp(): void {
    if (this.closed) return;
    this.queue = this.queue.then(async () => {
      const max = (await this.reader.query<{ s: number | null }>('SELECT max(stream_ordering) AS s FROM events')).rows[0]?.s ?? 0;
      if (max > this.last) await this.ingest(max);
    }).catch((err: unknown) => this.failed(err));
  }

  private enqueue(target: number, force = false): void {
    this.queue = this.queue.then(() => this.ingest(target, force)).catch((err: unknown) => this.failed(err));
  }

  /** Whether another process's notice has covered `pos` (it is committed, and named or to be read). */
  private isCovered(pos: number): boolean {
    return pos <= this.readThrough || this.covered.has(pos);
  }

  /**
   * The feed is at `at`, which no notice has covered: true while it should wait for one
   * (a timer then reads it anyway), false once it has waited long enough.
   */
  private waitAt(at: number): boolean {
    const now = performance.now();
    if (this.gap?.at !== at) {
      if (this.gap) clearTimeout(this.gap.timer);
      const timer = setTimeout(() => {
        const gap = this.gap;
        if (gap?.timer === timer && this.last < gap.at) this.enqueue(this.target, true);
      }, GAP_WAIT_MS);
      timer.unref?.();
      this.gap = { at, since: now, timer };
      return true;
    }
    return now - this.gap.since < GAP_WAIT_MS;
  }

  private failed(err: unknown): void {
    if (!this.closed) this.logger.error({ err: (err as Error).message }, 'replication: catching up failed; retrying on the next message or timer');
  }

  private feed(events: readonly PersistedEvent[]): void {
    this.sync!.onPersisted(events);
    this.last = events.at(-1)!.stream_ordering;
  }

  /** A named event of another process that this one may leave unread: nobody here serves its room. */
  private unreadRoom(pos: number): string | undefined {
    const roomId = this.named.get(pos);
    return roomId !== undefined && !this.sync!.servesRoom(roomId) ? roomId : undefined;
  }

  /**
   * Feeds every event up to `target`, in stream order: this process's own as they are, the
   * others' named events in rooms it does not serve as positions only, and the rest read
   * from the database in the ranges between them. A position no notice has covered yet is
   * waited for a moment (waitAt) unless `force`: its writer's notice is usually on its way,
   * and reading it costs a query here and in the database.
   */
  private async ingest(upTo: number, force = false): Promise<void> {
    if (upTo > this.target) this.target = upTo;
    const target = this.target;
    // what is fed already: own events, named events and covered positions at or below `last`
    for (const positions of [this.own, this.named, this.covered]) {
      for (const pos of positions.keys()) if (pos <= this.last) positions.delete(pos);
    }
    if (this.gap && this.last >= this.gap.at) {
      clearTimeout(this.gap.timer);
      this.gap = null;
    }
    while (this.last < target && !this.closed) {
      const run: PersistedEvent[] = [];
      for (let pos = this.last + 1; pos <= target; pos++) {
        const ev = this.own.get(pos);
        if (!ev) break;
        run.push(ev);
        this.own.delete(pos);
      }
      if (run.length > 0) {
        this.feed(run);
        continue;
      }
      const unread: { stream_ordering: number; room_id: string }[] = [];
      for (let pos = this.last + 1; pos <= target; pos++) {
        const roomId = this.unreadRoom(pos);
        if (roomId === undefined) break;
        unread.push({ stream_ordering: pos, room_id: roomId });
        this.named.delete(pos);
      }
      if (unread.length > 0) {
        this.sync!.onPersistedUnread(unread);
        this.last = unread.at(-1)!.stream_ordering;
        continue;
      }
      const at = this.last + 1;
      if (!force && !this.isCovered(at)) {
        if (this.waitAt(at)) return;
        // waited long enough: what is still uncovered up to the target is read now, not a
        // position per wait
        force = true;
      }
      // read up to the next position this process has or may leave unread (or, unless
      // forced, that no notice covers yet)
      let end = at;
      while (end < target && !this.own.has(end + 1) && this.unreadRoom(end + 1) === undefined
        && (force || this.isCovered(end + 1)) && end - this.last < BATCH) end++;
      const rows = (await this.reader.query<EventRow>(
        'SELECT * FROM events WHERE stream_ordering > $1 AND stream_ordering <= $2 ORDER BY stream_ordering LIMIT $3',
        [this.last, end, BATCH])).rows;
      if (this.closed) return;
      if (rows.length === 0) {
        // nothing is committed past `last`: a target beyond it was no real position (a forged NOTIFY)
        this.target = this.last;
        if (this.readThrough > this.last) this.readThrough = this.last;
        return;
      }
      this.feed(rows.map(eventFromRow));
    }
  }

  private async redacted(eventId: string): Promise<void> {
    const sync = this.sync!;
    // the recent copies and the initialSync tails too: this process may have read the
    // target (and filled a tail) between the redaction event's commit and the redaction's
    sync.forgetRedacted(eventId);
    const successors = (await this.reader.query<{ event_id: string }>('SELECT event_id FROM events WHERE replaces_state = $1', [eventId])).rows;
    for (const s of successors) sync.jsonCache.invalidate(s.event_id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.safetyTimer);
    if (this.gap) clearTimeout(this.gap.timer);
    await this.queue.catch(() => {});
    await this.bus.close();
    await this.reader.end().catch(() => {});
  }
}
