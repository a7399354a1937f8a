/**
 * The v1 Sync API over the event store and the other streams: GET /events (long-poll),
 * GET /initialSync, GET /events/{eventId}, and the room-level initialSync and /messages.
 *
 * - Positions: the notifier's current token is "now". It advances only after a write has
 *   committed and been handed to `onPersisted` (room events) or a stream (the rest), and
 *   the fan-out to waiting polls runs from setImmediate, after the writer answered.
 * - Recent room events are kept in memory by stream ordering, so a woken poll reads them
 *   without SQL; a range not held there (older, or with a gap) is read from the store.
 * - Bodies are built as JSON text: room events through the EventJsonCache (each event
 *   stringified once), the rest with JSON.stringify.
 */
import { errors, MatrixError } from '../../errors.js';
import type { EventStore } from '../../storage/events.js';
import type { StreamStore, PresenceRecord, AccountDataRecord, ReceiptRecord } from '../../storage/streams.js';
import { EventJsonCache, formatClientEvent, jsonArray, type ClientEvent, type JsonSink } from '../events/format.js';
import type { Membership, PersistedEvent } from '../events/types.js';
import { canSeeEvent } from '../rooms/visibility.js';
import type { RoomState } from '../rooms/room-state.js';
import { PollSlots } from '../ratelimit/poll-slots.js';
import { MembershipIndex } from './membership-index.js';
import { Notifier, WaitCancel, type WaitOutcome } from './notifier.js';
import {
  clampToCurrent, formatStreamToken, maxToken, parseStreamToken, toLiveToken, withTopologicalRoom,
  type StreamKey, type StreamToken,
} from './stream-token.js';
import {
  AccountDataStream, accountDataStreamEvents, PresenceStream, ReceiptStream, receiptEvents, TypingStream,
  type AccountDataEvent, type PresenceTimings, type SyncStreams,
} from './streams/index.js';

export interface SyncOptions {
  /** /events `timeout` when absent (ms). */
  defaultTimeoutMs: number;
  /** Longer timeouts are cut to this (well below Node's request timeouts). */
  maxTimeoutMs: number;
  /** Most events in one /events answer; a client catches up by following `end`. */
  maxEventsPerPoll: number;
  initialSyncDefaultLimit: number;
  initialSyncMaxLimit: number;
  messagesDefaultLimit: number;
  messagesMaxLimit: number;
  /** Room events kept in memory for woken polls. */
  recentEvents: number;
  /** /events calls one user may have waiting at once (429 beyond). */
  maxWaitingPollsPerUser: number;
  /** The last events of each room kept in memory for initialSync (a larger limit reads the store). */
  roomTailEvents: number;
  /** Rooms whose tails are kept (least recently used dropped first). */
  roomTailRooms: number;
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = {
  defaultTimeoutMs: 30_000,
  maxTimeoutMs: 60_000,
  maxEventsPerPoll: 100,
  initialSyncDefaultLimit: 10,
  initialSyncMaxLimit: 1000,
  messagesDefaultLimit: 10,
  messagesMaxLimit: 1000,
  recentEvents: 20_000,
  maxWaitingPollsPerUser: 20,
  roomTailEvents: 20,
  roomTailRooms: 10_000,
};

export interface SyncServiceDeps {
  readonly events: EventStore;
  readonly streams: StreamStore;
  readonly options?: Partial<SyncOptions>;
  readonly presence?: Partial<PresenceTimings>;
  readonly now?: () => number;
}

/** Who asks: the user, and the hash of their access token (for transaction ids). */
export interface SyncRequester {
  readonly userId: string;
  readonly tokenHash: string;
}

export interface EventsQuery {
  readonly from?: string | undefined;
  readonly timeout?: number | undefined;
}

/** Stripped state put in an invite's unsigned.invite_room_state. */
const INVITE_STATE_TYPES = ['m.room.join_rules', 'm.room.canonical_alias', 'm.room.avatar', 'm.room.name', 'm.room.topic'];

const MEMBERSHIPS_SHOWN: ReadonlySet<string> = new Set(['join', 'invite']);

interface StopWatch {
  readonly polls: Set<WaitCancel>;
  readonly onAbort: () => void;
}
const stopWatches = new WeakMap<AbortSignal, StopWatch>();

/**
 * Cancels `poll` when the server's shutdown signal fires. Every waiting poll watches that
 * one signal, and EventTarget's add and remove scan its listeners, so one listener per
 * poll made 10,000 polls cost O(n^2): here the signal has one listener while any poll
 * waits (none after), and the polls a Set.
 */
function watchStopping(stopping: AbortSignal, poll: WaitCancel): void {
  let watch = stopWatches.get(stopping);
  if (!watch) {
    const polls = new Set<WaitCancel>();
    watch = { polls, onAbort: () => { for (const p of [...polls]) p.cancel(); } };
    stopWatches.set(stopping, watch);
    stopping.addEventListener('abort', watch.onAbort, { once: true });
  }
  watch.polls.add(poll);
}

function unwatchStopping(stopping: AbortSignal, poll: WaitCancel): void {
  const watch = stopWatches.get(stopping);
  if (!watch) return;
  watch.polls.delete(poll);
  if (watch.polls.size === 0) {
    stopWatches.delete(stopping);
    stopping.removeEventListener('abort', watch.onAbort);
  }
}

/** parts.join(',') as a rope (see SyncService.renderArray): large bodies are copied once, when written. */
function ropeJoin(parts: readonly string[]): string {
  let out = parts[0] ?? '';
  for (let i = 1; i < parts.length; i++) out += ',' + parts[i];
  return out;
}

/** A pagination token, or 400 M_BAD_PAGINATION. */
function parseFrom(text: string): StreamToken {
  try {
    return parseStreamToken(text);
  } catch {
    throw new MatrixError(400, 'M_BAD_PAGINATION', "'from' parameter is invalid");
  }
}

/** The position just before `ev` in its room's timeline. */
function positionBefore(ev: PersistedEvent): { topological: number; stream: number } {
  return { topological: ev.topological_ordering, stream: ev.stream_ordering - 1 };
}

/** Membership of `userId` just after stream position `at`, from their membership events (oldest first). */
function membershipAt(events: readonly PersistedEvent[], at: number): Membership | undefined {
  let m: Membership | undefined;
  for (const ev of events) {
    if (ev.stream_ordering > at) break;
    m = ev.content['membership'] as Membership;
  }
  return m;
}

function latestAt(events: readonly PersistedEvent[], at: number): PersistedEvent | undefined {
  let out: PersistedEvent | undefined;
  for (const ev of events) {
    if (ev.stream_ordering > at) break;
    out = ev;
  }
  return out;
}

/**
 * What a user may see of a room's events: from their membership events there and the
 * room's history_visibility changes (each oldest first), and whether they are peeking
 * (not joined now).
 */
function judgeFrom(userId: string, memberships: readonly PersistedEvent[], visibility: readonly PersistedEvent[], isPeeking: boolean): (ev: PersistedEvent) => boolean {
  return (ev) => canSeeEvent(userId, ev, {
    membership: membershipAt(memberships, ev.stream_ordering),
    historyVisibility: latestAt(visibility, ev.stream_ordering)?.content['history_visibility'] as string | undefined,
  }, { isPeeking });
}

/** What initialSync read for a room ahead of its snapshot. */
interface RoomPrefetch {
  /** The room's last `limit` events up to the snapshot, oldest first. */
  readonly latest: PersistedEvent[];
  /** Stream ordering of the user's join, when it is their last membership event in the room. */
  readonly joinedSince?: number;
  /** The room's current state events (read for every joined room at once). */
  readonly state?: readonly PersistedEvent[];
  /** What the user may see of `latest`, when some of it came before the join (read for every such room at once). */
  readonly judge?: (ev: PersistedEvent) => boolean;
}

/**
 * A room's newest events, oldest first, contiguous up to the newest persisted one; `all`
 * when they are every event of the room.
 */
interface RoomTail {
  events: PersistedEvent[];
  all: boolean;
}

export class SyncService {
  readonly notifier: Notifier;
  readonly membership: MembershipIndex;
  readonly streams: SyncStreams;
  readonly jsonCache = new EventJsonCache(50_000);
  readonly options: SyncOptions;
  private readonly store: EventStore;
  private readonly now: () => number;
  /** Recent room events by stream ordering; a room id stands for an event left unread (onPersistedUnread). */
  private readonly recent = new Map<number, PersistedEvent | string>();
  private recentMin = Number.POSITIVE_INFINITY;
  /** initialSync's timelines without SQL: see RoomTail, extendTail and fillTail. */
  private readonly tails = new Map<string, RoomTail>();
  /** Stream ordering of each room's newest event handed to onPersisted or onPersistedUnread. */
  private readonly lastPersistedIn = new Map<string, number>();
  /** Redactions applied so far (forgetRedacted): a tail read from the store across one is not kept. */
  private redactions = 0;
  private stopped = false;
  private pollSlots: PollSlots;

  private constructor(deps: SyncServiceDeps, membership: MembershipIndex, initial: StreamToken) {
    this.store = deps.events;
    this.now = deps.now ?? Date.now;
    this.options = { ...DEFAULT_SYNC_OPTIONS, ...deps.options };
    this.pollSlots = new PollSlots(this.options.maxWaitingPollsPerUser);
    this.membership = membership;
    this.notifier = new Notifier(initial, { roomsForUser: (u) => this.membership.notifyRooms(u), now: this.now });
    const defer = (key: StreamKey, pos: number, targets: { users?: string[]; rooms?: string[] }): void => {
      setImmediate(() => { if (!this.stopped) this.notifier.onNewEvent(key, pos, targets); });
    };
    this.streams = {
      typing: new TypingStream({ notify: (pos, roomId) => defer('typing', pos, { rooms: [roomId] }) }),
      receipts: new ReceiptStream({ store: deps.streams, notify: (pos, roomId) => defer('receipt', pos, { rooms: [roomId] }), now: this.now }, initial.receipt),
      accountData: new AccountDataStream({ store: deps.streams, notify: (pos, userId) => defer('account_data', pos, { users: [userId] }) }, initial.account_data),
      presence: new PresenceStream({
        store: deps.streams,
        // everyone sharing a room with the user: the user's joined rooms index them
        notify: (pos, userId) => defer('presence', pos, { users: [userId], rooms: this.membership.joinedRooms(userId) }),
        ...(deps.presence ? { timings: deps.presence } : {}),
        now: this.now,
      }, initial.presence),
    };
  }

  static async create(deps: SyncServiceDeps): Promise<SyncService> {
    const membership = new MembershipIndex();
    for (const row of await deps.events.getAllMemberships()) membership.apply(row.roomId, row.userId, row.membership, row.streamOrdering);
    const initial: StreamToken = {
      room: { stream: await deps.events.currentStreamOrdering() },
      presence: await deps.streams.maxPresenceStream(),
      typing: 0,
      receipt: await deps.streams.maxReceiptStream(),
      account_data: await deps.streams.maxAccountDataStream(),
    };
    const service = new SyncService(deps, membership, initial);
    await service.streams.presence.start();
    return service;
  }

  /** Changes options at run time (tests, config). */
  configure(options: Partial<SyncOptions>): void {
    Object.assign(this.options, options);
    if (options.maxWaitingPollsPerUser !== undefined) this.pollSlots = new PollSlots(options.maxWaitingPollsPerUser);
  }

  /** Polls `userId` has waiting now. */
  waitingPolls(userId: string): number {
    return this.pollSlots.waiting(userId);
  }

  stop(): void {
    this.stopped = true;
    this.streams.typing.stop();
    this.streams.presence.stop();
  }

  /** "Now": every stream's newest announced position. */
  currentToken(): StreamToken {
    return this.notifier.currentToken;
  }

  /**
   * Room events just committed, in stream order (RoomService's onPersisted). Indexes
   * memberships and keeps the events at once; wakes polls from setImmediate.
   */
  onPersisted(events: readonly PersistedEvent[]): void {
    for (const ev of events) {
      this.remember(ev.stream_ordering, ev);
      this.extendTail(ev);
      if (ev.type === 'm.room.member' && ev.state_key !== undefined && typeof ev.content['membership'] === 'string') {
        this.membership.apply(ev.room_id, ev.state_key, ev.content['membership'] as Membership, ev.stream_ordering);
      }
      if (ev.type === 'm.room.redaction' && ev.redacts !== undefined) this.forgetRedacted(ev.redacts);
    }
    // "Now" includes them at once, so the writer's next read sees its write whatever the
    // turn of the event loop (SQLite's group commit answers from the check phase, and the
    // deferred fan-out below would then run only after the next requests are read).
    const last = events.at(-1);
    if (last && !this.stopped) this.notifier.advanceCurrent('room', last.stream_ordering);
    setImmediate(() => {
      if (this.stopped) return;
      for (const ev of events) {
        const target = ev.type === 'm.room.member' ? ev.state_key : undefined;
        const m = ev.content['membership'];
        if (target !== undefined && (m === 'join' || m === 'invite')) this.notifier.userJoinedRoom(target, ev.room_id);
        this.notifier.onNewEvent('room', ev.stream_ordering, { rooms: [ev.room_id], ...(target !== undefined ? { users: [target] } : {}) });
        if (target !== undefined && m !== 'join' && m !== 'invite') this.notifier.userLeftRoom(target, ev.room_id);
      }
    });
  }

  /**
   * Whether this process serves a room: a user stream (a poll now or lately) is watching it.
   * Another process's events in a room it does not serve may be left unread.
   */
  servesRoom(roomId: string): boolean {
    return this.notifier.watchesRoom(roomId);
  }

  /**
   * Room events another process committed, in stream order, that this one did not read (in
   * rooms it does not serve, and not memberships or redactions). "Now" moves past them and
   * their rooms' watchers, if any started since, are woken; a poll that wants them reads them
   * from the store, as do initialSync's timelines (the rooms' tails are dropped).
   */
  onPersistedUnread(events: readonly { readonly stream_ordering: number; readonly room_id: string }[]): void {
    for (const ev of events) {
      this.remember(ev.stream_ordering, ev.room_id);
      this.lastPersistedIn.set(ev.room_id, ev.stream_ordering);
      this.tails.delete(ev.room_id);
    }
    const last = events.at(-1);
    if (!last || this.stopped) return;
    this.notifier.advanceCurrent('room', last.stream_ordering);
    setImmediate(() => {
      if (this.stopped) return;
      for (const ev of events) this.notifier.onNewEvent('room', ev.stream_ordering, { rooms: [ev.room_id] });
    });
  }

  private remember(pos: number, ev: PersistedEvent | string): void {
    this.recent.set(pos, ev);
    if (pos < this.recentMin) this.recentMin = pos;
    while (this.recent.size > this.options.recentEvents) {
      this.recent.delete(this.recentMin);
      this.recentMin++;
    }
  }

  private setTail(roomId: string, tail: RoomTail): void {
    this.tails.delete(roomId);
    this.tails.set(roomId, tail);
    if (this.tails.size > this.options.roomTailRooms) this.tails.delete(this.tails.keys().next().value!);
  }

  /** Appends a just-persisted event to its room's tail; a redaction drops the tail (stored copies change). */
  private extendTail(ev: PersistedEvent): void {
    this.lastPersistedIn.set(ev.room_id, ev.stream_ordering);
    let tail = this.tails.get(ev.room_id);
    if (ev.type === 'm.room.redaction') {
      this.tails.delete(ev.room_id);
      return;
    }
    if (!tail && ev.type === 'm.room.create' && ev.state_key === '') this.setTail(ev.room_id, (tail = { events: [], all: true }));
    if (!tail) return;
    // A room's depths go up by one per event: anything else means an event of the room
    // was handed over out of order or not at all (a redaction still applying, another
    // process's commit), and the tail could have a hole.
    const last = tail.events.at(-1);
    if (last && (last.stream_ordering >= ev.stream_ordering || ev.topological_ordering !== last.topological_ordering + 1)) {
      this.tails.delete(ev.room_id);
      return;
    }
    tail.events.push(ev);
    if (tail.events.length > this.options.roomTailEvents) {
      tail.events.shift();
      tail.all = false;
    }
  }

  /** The room's last `limit` events up to `upTo`, oldest first, from its tail; undefined if the tail cannot tell. */
  private tailAt(roomId: string, upTo: number, limit: number): PersistedEvent[] | undefined {
    const tail = this.tails.get(roomId);
    if (!tail) return undefined;
    let end = tail.events.length;
    while (end > 0 && tail.events[end - 1]!.stream_ordering > upTo) end--;
    if (end >= limit) return tail.events.slice(end - limit, end);
    return tail.all ? tail.events.slice(0, end) : undefined;
  }

  /**
   * Keeps what the store gave for a room (its last `limit` events up to `upTo`, the
   * notifier's position, so every event up to there has been through onPersisted) as its
   * tail, unless a newer event of the room went by while it had none.
   */
  private fillTail(roomId: string, events: readonly PersistedEvent[], upTo: number, limit: number): void {
    if (limit === 0 || limit > this.options.roomTailEvents || this.tails.has(roomId)) return;
    if ((this.lastPersistedIn.get(roomId) ?? 0) > upTo) return;
    this.setTail(roomId, { events: [...events], all: events.length < limit });
  }

  /**
   * A redaction was applied to `eventId` (here, or by another process: Replicator). Its
   * stored copy, and a state event's successors' prev_content, changed: cached renderings,
   * recent copies and the tails holding them go.
   */
  forgetRedacted(eventId: string): void {
    this.redactions++;
    for (const [roomId, tail] of this.tails) {
      if (tail.events.some((ev) => ev.event_id === eventId || ev.replaces_state === eventId)) this.tails.delete(roomId);
    }
    this.jsonCache.invalidate(eventId);
    for (const [s, ev] of this.recent) {
      if (typeof ev === 'string') continue;
      if (ev.event_id === eventId || ev.replaces_state === eventId) {
        this.recent.delete(s);
        this.jsonCache.invalidate(ev.event_id);
      }
    }
  }

  /** Events in (from, to] of these rooms, oldest first, at most `limit`. */
  private async eventsInRange(rooms: ReadonlySet<string>, from: number, to: number, limit: number): Promise<PersistedEvent[]> {
    if (to - from <= this.options.recentEvents) {
      const out: PersistedEvent[] = [];
      let complete = true;
      for (let s = from + 1; s <= to; s++) {
        const ev = this.recent.get(s);
        if (!ev) { complete = false; break; }
        if (typeof ev === 'string') {
          // left unread: the store has it, and the range only if the event is wanted
          if (rooms.has(ev)) { complete = false; break; }
          continue;
        }
        if (rooms.has(ev.room_id)) {
          out.push(ev);
          if (out.length >= limit) break;
        }
      }
      if (complete) return out;
    }
    return this.store.getEventsInStreamRange([...rooms], from, to, limit);
  }

  // ---------------------------------------------------------------- GET /events

  /** Parses `from` for /events: absent or END is now; the rest is clamped to now. */
  resolveFrom(from: string | undefined): StreamToken {
    const now = this.currentToken();
    if (from === undefined || from === 'END') return now;
    return toLiveToken(clampToCurrent(parseFrom(from), now));
  }

  /**
   * `whenDisconnected` cancels the wait when the client goes away: it registers the
   * listener and returns what unregisters it (HandlerContext.whenDisconnected).
   */
  getEvents(req: SyncRequester, query: EventsQuery, whenDisconnected: (listener: WaitCancel) => () => void,
    stopping: AbortSignal): Promise<string> {
    // Not an async function: a held poll would keep it suspended, generator, registers and
    // all, for minutes (docs/benchmarks.md, eighteenth round). Failures still reject.
    try {
      let timeout = query.timeout ?? this.options.defaultTimeoutMs;
      if (!Number.isInteger(timeout) || timeout < 0) throw errors.invalidParam('timeout must be a non-negative integer of milliseconds');
      timeout = Math.min(timeout, this.options.maxTimeoutMs);
      const from = this.resolveFrom(query.from);
      // Only a poll that may wait takes a slot: timeout=0 answers at once.
      const releaseSlot = timeout > 0 ? this.pollSlots.acquire(req.userId) : () => {};
      let release: (() => void) | undefined;
      try {
        release = this.streams.presence.syncStartedNow(req.userId);
      } catch (err) {
        releaseSlot();
        throw err;
      }
      if (release) return this.pollFor(req, from, timeout, whenDisconnected, stopping, release, releaseSlot);
      return this.streams.presence.syncStarted(req.userId).then(
        (r) => this.pollFor(req, from, timeout, whenDisconnected, stopping, r, releaseSlot),
        (err: unknown) => {
          releaseSlot();
          throw err;
        });
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** getEvents once its poll slot and presence are taken: `release` and `releaseSlot` give them back. */
  private pollFor(req: SyncRequester, from: StreamToken, timeout: number, whenDisconnected: (listener: WaitCancel) => () => void,
    stopping: AbortSignal, release: () => void, releaseSlot: () => void): Promise<string> {
    // One handle for both ways a wait ends early (shutdown, the client leaving).
    const cancel = new WaitCancel();
    let unwatchClient = (): void => {};
    const done = (): void => {
      unwatchStopping(stopping, cancel);
      unwatchClient();
      release();
      releaseSlot();
    };
    let start: string;
    let waiting: Promise<WaitOutcome<{ parts: string[]; end: StreamToken }>>;
    try {
      start = formatStreamToken(from);
      if (stopping.aborted) cancel.cancel();
      watchStopping(stopping, cancel);
      unwatchClient = whenDisconnected(cancel);
      waiting = this.notifier.waitForEvents(req.userId, from, timeout, cancel, (f, t) => this.collect(req, f, t));
    } catch (err) {
      done();
      return Promise.reject(err as Error);
    }
    return waiting.then((outcome) => {
      done();
      if (outcome.status === 'result') {
        return `{"start":${JSON.stringify(start)},"end":${JSON.stringify(formatStreamToken(outcome.result.end))},"chunk":${jsonArray(outcome.result.parts)}}`;
      }
      const end = outcome.status === 'timeout' ? outcome.end : maxToken(from, this.currentToken());
      // aborted: shutting down (answer an empty chunk at once) or the client left (unread)
      return `{"start":${JSON.stringify(start)},"end":${JSON.stringify(formatStreamToken(end))},"chunk":[]}`;
    }, (err: unknown) => {
      done();
      throw err;
    });
  }

  /** What `req` may see in (from, to]: rendered events and the token after them; null if nothing. */
  private async collect(req: SyncRequester, from: StreamToken, to: StreamToken): Promise<{ parts: string[]; end: StreamToken } | null> {
    const userId = req.userId;
    const now = this.now();
    const max = this.options.maxEventsPerPoll;
    const parts: string[] = [];
    const end = { room: { stream: from.room.stream }, presence: from.presence, typing: from.typing, receipt: from.receipt, account_data: from.account_data };

    // room events
    if (to.room.stream > from.room.stream) {
      const all = new Set<string>();
      let check: Map<string, PersistedEvent[] | null> | undefined;
      for (const [roomId, m] of this.membership.roomsOf(userId)) {
        if (m.membership === 'join' && m.stream <= from.room.stream) all.add(roomId);
        else if (m.stream > from.room.stream) (check ??= new Map()).set(roomId, null);
      }
      // Joined throughout (the usual poll): `all` is every room to read, none to judge.
      const rooms = check ? new Set([...all, ...check.keys()]) : all;
      let cursor = from.room.stream;
      if (rooms.size > 0) {
        outer: while (cursor < to.room.stream) {
          const batch = await this.eventsInRange(rooms, cursor, to.room.stream, max);
          for (const ev of batch) {
            cursor = ev.stream_ordering;
            if (all.has(ev.room_id) || await this.visibleInStream(userId, ev, check!, to.room.stream)) {
              parts.push(this.jsonCache.render(ev, now, { requesterToken: req.tokenHash }));
              if (parts.length >= max) break outer;
            }
          }
          if (batch.length < max) { cursor = to.room.stream; break; }
        }
      } else {
        cursor = to.room.stream;
      }
      end.room.stream = cursor;
    }
    let budget = max - parts.length;

    // presence of the users sharing a room with the user
    if (budget > 0 && to.presence > from.presence) {
      const sharing = this.membership.usersSharingRoomWith(userId);
      const rows = await this.streams.presence.updatesFor((u) => sharing.has(u), from.presence, to.presence);
      const taken = rows.slice(0, budget);
      for (const r of taken) parts.push(JSON.stringify(this.streams.presence.event(r, now)));
      end.presence = taken.length === rows.length ? to.presence : taken.at(-1)!.streamId;
      budget -= taken.length;
    }
    // Only typing and receipts need the joined rooms; most wake-ups move neither.
    const joined = to.typing > from.typing || to.receipt > from.receipt ? this.membership.joinedRooms(userId) : [];
    if (budget > 0 && to.typing > from.typing) {
      const evs = this.streams.typing.updatesFor(joined, from.typing, to.typing);
      if (evs.length <= budget) {
        for (const ev of evs) parts.push(JSON.stringify(ev));
        end.typing = to.typing;
        budget -= evs.length;
      }
    }
    if (budget > 0 && to.receipt > from.receipt) {
      const { rows } = await this.streams.receipts.updatesFor(joined, from.receipt, to.receipt);
      const taken: ReceiptRecord[] = rows.slice(0, budget);
      const evs = receiptEvents(taken);
      for (const ev of evs) parts.push(JSON.stringify(ev));
      end.receipt = taken.length === rows.length ? to.receipt : taken.at(-1)!.streamId;
      budget -= evs.length;
    }
    if (budget > 0 && to.account_data > from.account_data) {
      const { rows } = await this.streams.accountData.updatesFor(userId, from.account_data, to.account_data);
      const taken: AccountDataRecord[] = rows.slice(0, budget);
      for (const ev of accountDataStreamEvents(taken)) parts.push(JSON.stringify(ev));
      end.account_data = taken.length === rows.length ? to.account_data : taken.at(-1)!.streamId;
    }
    if (parts.length === 0) return null;
    return { parts, end };
  }

  /**
   * The stream's rule: an event reaches a user if they are joined just after it, it is
   * their own membership event (an invite, their leave, a kick or ban included), or they
   * sent it (m.room.create comes before its creator's join).
   */
  private async visibleInStream(
    userId: string, ev: PersistedEvent, check: Map<string, PersistedEvent[] | null>, upTo: number,
  ): Promise<boolean> {
    if ((ev.type === 'm.room.member' && ev.state_key === userId) || ev.sender === userId) return true;
    let history = check.get(ev.room_id);
    if (!history) {
      history = await this.store.getMembershipEvents(ev.room_id, userId, upTo);
      check.set(ev.room_id, history);
    }
    return membershipAt(history, ev.stream_ordering) === 'join';
  }

  // ---------------------------------------------------------------- GET /initialSync

  private tokenWithRoom(snapshot: StreamToken, pos: { topological: number; stream: number } | number): string {
    return typeof pos === 'number'
      ? formatStreamToken({ ...snapshot, room: { stream: pos } })
      : formatStreamToken(withTopologicalRoom(snapshot, pos.topological, pos.stream));
  }

  private render(ev: PersistedEvent, now: number, req: SyncRequester): string {
    return this.jsonCache.render(ev, now, { requesterToken: req.tokenHash });
  }

  /**
   * Events as a JSON array, by concatenation: V8 keeps `+` as a rope and the body is
   * flattened once, when it is written; join() copies it again at every level.
   */
  private renderArray(events: Iterable<PersistedEvent>, now: number, req: SyncRequester): string {
    let out = '[';
    let first = true;
    for (const ev of events) {
      out += first ? this.render(ev, now, req) : ',' + this.render(ev, now, req);
      first = false;
    }
    return out + ']';
  }

  /** State as of `upTo`: the current state unless something newer is in it. */
  private async stateAt(roomId: string, upTo: number, current: boolean): Promise<RoomState> {
    if (current) {
      const state = await this.store.getCurrentState(roomId);
      let fresh = true;
      for (const ev of state.events()) if (ev.stream_ordering > upTo) { fresh = false; break; }
      if (fresh) return state;
    }
    return this.store.getStateAt(roomId, upTo);
  }

  /** The rooms[] entry (or room initialSync body) as JSON text members, without braces. */
  private async roomSnapshot(
    req: SyncRequester, roomId: string, membership: Membership, membershipEvent: PersistedEvent | null, memberStream: number,
    snapshot: StreamToken, limit: number, now: number, accountData: AccountDataEvent[] | undefined, isPublic: boolean,
    pre?: RoomPrefetch,
  ): Promise<string[]> {
    const fields: string[] = [`"room_id":${JSON.stringify(roomId)}`, `"membership":${JSON.stringify(membership)}`,
      `"visibility":${isPublic ? '"public"' : '"private"'}`];
    if (membership === 'invite') {
      if (membershipEvent) {
        const state = await this.store.getCurrentState(roomId);
        const stripped = INVITE_STATE_TYPES.map((t) => state.get(t)).filter((e): e is PersistedEvent => e !== undefined)
          .map((e) => ({ type: e.type, state_key: e.state_key ?? '', content: e.content, sender: e.sender }));
        const invite = formatClientEvent(membershipEvent, now, { requesterToken: req.tokenHash }) as ClientEvent & { unsigned: Record<string, unknown> };
        invite.unsigned = { ...invite.unsigned, invite_room_state: stripped };
        fields.push(`"inviter":${JSON.stringify(membershipEvent.sender)}`, `"invite":${JSON.stringify(invite)}`);
      }
      return fields;
    }
    const joined = membership === 'join';
    const upTo = joined ? snapshot.room.stream : Math.min(memberStream, snapshot.room.stream);
    // The prefetched current state serves unless a state event came after the snapshot.
    const state: Iterable<PersistedEvent> = joined && pre?.state && pre.state.every((ev) => ev.stream_ordering <= upTo)
      ? pre.state
      : (await this.stateAt(roomId, upTo, joined)).events();
    const latest = pre ? pre.latest : await this.store.getLatestEvents(roomId, upTo, limit);
    // History visibility applies (e.g. `joined` hides what came before the join), but a
    // user joined since before the first of these events sees every one of them, whatever
    // the setting: the common case needs no judge, and no reads for one.
    const joinedThroughout = joined && pre?.joinedSince !== undefined
      && (latest.length === 0 || pre.joinedSince <= latest[0]!.stream_ordering);
    const messages = joinedThroughout ? latest : latest.filter(pre?.judge ?? await this.historyJudge(req.userId, roomId));
    const end = joined ? formatStreamToken(snapshot) : this.tokenWithRoom(snapshot, upTo);
    const start = latest.length > 0 ? this.tokenWithRoom(snapshot, positionBefore(latest[0]!)) : end;
    fields.push(
      `"messages":{"start":${JSON.stringify(start)},"end":${JSON.stringify(end)},"chunk":${this.renderArray(messages, now, req)}}`,
      `"state":${this.renderArray(state, now, req)}`,
    );
    if (accountData) fields.push(`"account_data":${JSON.stringify(accountData)}`);
    return fields;
  }

  /**
   * Writes the answer into `out` room by room, so that each room's text dies young: built
   * whole, a few megabytes of text stayed alive through the young-generation collections
   * and was flattened into fresh memory at the end.
   */
  async initialSync(req: SyncRequester, opts: { limit?: number | undefined; archived?: boolean | undefined }, out: JsonSink): Promise<void> {
    const limit = this.checkLimit(opts.limit, this.options.initialSyncDefaultLimit, this.options.initialSyncMaxLimit);
    const archived = opts.archived ?? false;
    const snapshot = this.currentToken();
    const now = this.now();
    const userId = req.userId;
    const rows = await this.store.getMemberships(userId);
    const accountData = await this.streams.accountData.snapshot(userId, snapshot.account_data);
    const joinedRooms: string[] = [];
    // The timelines of the rooms the user is joined to now (the common case) in one read.
    const joinedNow = rows.filter((r) => !r.forgotten && r.membership === 'join' && r.streamOrdering <= snapshot.room.stream);
    const latestByRoom = new Map<string, PersistedEvent[]>();
    const misses: string[] = [];
    const redactionsBefore = this.redactions;
    for (const r of joinedNow) {
      const fromTail = this.tailAt(r.roomId, snapshot.room.stream, limit);
      if (fromTail) latestByRoom.set(r.roomId, fromTail);
      else misses.push(r.roomId);
    }
    // Every room's record and every joined room's state in one call each, not one per room.
    const roomRecords = await this.store.getRooms(rows.filter((r) => !r.forgotten).map((r) => r.roomId));
    const statesByRoom = joinedNow.length > 0
      ? await this.store.getCurrentStateEventsInRooms(joinedNow.map((r) => r.roomId))
      : new Map<string, PersistedEvent[]>();
    if (misses.length > 0) {
      const read = await this.store.getLatestEventsInRooms(misses, snapshot.room.stream, limit);
      for (const roomId of misses) {
        const events = read.get(roomId) ?? [];
        latestByRoom.set(roomId, events);
        // a redaction applied meanwhile may have changed what was read
        if (this.redactions === redactionsBefore) this.fillTail(roomId, events, snapshot.room.stream, limit);
      }
    }
    // Rooms whose shown events began before the user's join (a quiet room they created:
    // its creation events are among the last few) need the visibility judge: its reads
    // for all of them in one call each, not three per room.
    const judged = joinedNow.filter((r) => {
      const first = latestByRoom.get(r.roomId)?.[0];
      return first !== undefined && first.stream_ordering < r.streamOrdering;
    }).map((r) => r.roomId);
    const judges = new Map<string, (ev: PersistedEvent) => boolean>();
    if (judged.length > 0) {
      const [memberships, visibility] = await Promise.all([
        this.store.getStateHistoryInRooms(judged, 'm.room.member', userId),
        this.store.getStateHistoryInRooms(judged, 'm.room.history_visibility', ''),
      ]);
      // joined now (joinedNow): not peeking
      for (const roomId of judged) judges.set(roomId, judgeFrom(userId, memberships.get(roomId) ?? [], visibility.get(roomId) ?? [], false));
    }
    out.write('{"rooms":[');
    let first = true;
    for (const row of rows) {
      if (row.forgotten) continue;
      let membership = row.membership;
      let event: PersistedEvent | null = null;
      let memberStream = row.streamOrdering;
      if (row.streamOrdering > snapshot.room.stream) {
        // changed after the snapshot: use the membership as of the snapshot
        const history = await this.store.getMembershipEvents(row.roomId, userId, snapshot.room.stream);
        const last = history.at(-1);
        if (!last) continue;
        membership = last.content['membership'] as Membership;
        event = last;
        memberStream = last.stream_ordering;
      }
      const shown = MEMBERSHIPS_SHOWN.has(membership) || (archived && (membership === 'leave' || membership === 'ban'));
      if (!shown) continue;
      if (membership === 'invite' && !event) event = await this.store.getEvent(row.eventId);
      if (membership === 'join') joinedRooms.push(row.roomId);
      const room = roomRecords.get(row.roomId);
      // joined now, and the membership row is the user's last membership event in the room
      const pre: RoomPrefetch | undefined = membership === 'join' && event === null
        ? { latest: latestByRoom.get(row.roomId) ?? [], joinedSince: row.streamOrdering, state: statesByRoom.get(row.roomId) ?? [], judge: judges.get(row.roomId) }
        : undefined;
      const fields = await this.roomSnapshot(req, row.roomId, membership, event, memberStream, snapshot, limit, now,
        accountData.rooms.get(row.roomId) ?? [], room?.isPublic ?? false, pre);
      out.write(first ? `{${ropeJoin(fields)}}` : `,{${ropeJoin(fields)}}`);
      first = false;
    }
    const presence = await this.presenceParts(this.sharingAt(userId, joinedRooms), now);
    const receipts = joinedRooms.length ? await this.streams.receipts.snapshot(joinedRooms, snapshot.receipt) : [];
    out.write(`],"presence":${jsonArray(presence)},"account_data":${JSON.stringify(accountData.global)},`
      + `"receipts":${JSON.stringify(receipts)},"end":${JSON.stringify(formatStreamToken(snapshot))}}`);
  }

  private sharingAt(userId: string, joinedRooms: readonly string[]): string[] {
    const users = new Set<string>([userId]);
    for (const r of joinedRooms) for (const u of this.membership.joinedMembers(r)) users.add(u);
    return [...users];
  }

  private async presenceParts(userIds: readonly string[], now: number): Promise<string[]> {
    const records: PresenceRecord[] = await this.streams.presence.snapshot(userIds);
    return records.map((r) => JSON.stringify(this.streams.presence.event(r, now)));
  }

  private checkLimit(limit: number | undefined, dflt: number, max: number): number {
    if (limit === undefined) return dflt;
    if (!Number.isInteger(limit) || limit < 0) throw errors.invalidParam('Query parameter limit must be a non-negative integer.');
    return Math.min(limit, max);
  }

  // ---------------------------------------------------------------- visibility of history

  /** Loads what judging events of one room for one user needs. */
  private async historyJudge(userId: string, roomId: string): Promise<(ev: PersistedEvent) => boolean> {
    const [memberships, visibility, current] = await Promise.all([
      this.store.getMembershipEvents(roomId, userId),
      this.store.getStateHistory(roomId, 'm.room.history_visibility', ''),
      this.store.getMembership(roomId, userId),
    ]);
    return judgeFrom(userId, memberships, visibility, current?.membership !== 'join');
  }

  /** GET /events/{eventId}: the event if the user may see it, else 404 as for an unknown one. */
  async eventById(req: SyncRequester, eventId: string): Promise<ClientEvent> {
    const ev = await this.store.getEvent(eventId);
    if (!ev || ev.stream_ordering > this.currentToken().room.stream || !(await this.historyJudge(req.userId, ev.room_id))(ev)) {
      throw errors.notFound('Event not found.');
    }
    return formatClientEvent(ev, this.now(), { requesterToken: req.tokenHash });
  }

  /** Who may read the room's history, and up to where (a leave cuts it off). */
  private async roomAccess(userId: string, roomId: string): Promise<{ membership: Membership | undefined; upTo: number; memberEvent: string | undefined }> {
    if (!(await this.store.roomExists(roomId))) throw errors.notFound(`Unknown room ${roomId}`);
    const row = await this.store.getMembership(roomId, userId);
    const now = this.currentToken().room.stream;
    if (row?.membership === 'join') return { membership: 'join', upTo: now, memberEvent: row.eventId };
    if (row && (row.membership === 'leave' || row.membership === 'ban')) {
      const history = await this.store.getMembershipEvents(roomId, userId);
      if (history.some((e) => e.content['membership'] === 'join')) {
        return { membership: row.membership, upTo: Math.min(row.streamOrdering, now), memberEvent: row.eventId };
      }
    }
    const state = await this.store.getCurrentState(roomId);
    if (state.historyVisibility() === 'world_readable') return { membership: undefined, upTo: now, memberEvent: undefined };
    throw errors.forbidden(`User ${userId} not in room ${roomId}, and room previews are disabled`);
  }

  // ---------------------------------------------------------------- GET /rooms/{roomId}/initialSync

  async roomInitialSync(req: SyncRequester, roomId: string, opts: { limit?: number | undefined }): Promise<string> {
    const limit = this.checkLimit(opts.limit, this.options.initialSyncDefaultLimit, this.options.initialSyncMaxLimit);
    const access = await this.roomAccess(req.userId, roomId);
    const snapshot = this.currentToken();
    const now = this.now();
    const room = await this.store.getRoom(roomId);
    const accountData = await this.streams.accountData.snapshot(req.userId, snapshot.account_data);
    const membership = access.membership ?? 'join';
    const fields = await this.roomSnapshot(req, roomId, membership, null, access.upTo, snapshot, limit, now,
      accountData.rooms.get(roomId) ?? [], room?.isPublic ?? false);
    if (access.membership === undefined) fields.splice(1, 1); // a peek at a world_readable room: no membership
    const members = [...this.membership.joinedMembers(roomId)];
    const presence = await this.presenceParts(members, now);
    const receipts = await this.streams.receipts.snapshot([roomId], snapshot.receipt);
    fields.push(`"presence":${jsonArray(presence)}`, `"receipts":${JSON.stringify(receipts)}`);
    return `{${fields.join(',')}}`;
  }

  // ---------------------------------------------------------------- GET /rooms/{roomId}/messages

  async roomMessages(req: SyncRequester, roomId: string, q: { from?: string | undefined; to?: string | undefined; dir?: string | undefined; limit?: number | undefined }): Promise<string> {
    const dir = q.dir ?? 'f';
    if (dir !== 'b' && dir !== 'f') throw errors.invalidParam("Query parameter 'dir' must be one of ['b', 'f']");
    const limit = this.checkLimit(q.limit, this.options.messagesDefaultLimit, this.options.messagesMaxLimit);
    const nowToken = this.currentToken();
    const fromToken = q.from !== undefined ? parseFrom(q.from) : nowToken;
    const toToken = q.to !== undefined ? parseFrom(q.to) : undefined;
    const access = await this.roomAccess(req.userId, roomId);
    const toPosition = async (t: StreamToken): Promise<{ topological: number; stream: number }> =>
      t.room.topological !== undefined
        ? { topological: t.room.topological, stream: t.room.stream }
        : this.store.timelinePositionAt(roomId, Math.min(t.room.stream, nowToken.room.stream));
    const cap = await this.store.timelinePositionAt(roomId, access.upTo);
    const before = (a: { topological: number; stream: number }, b: { topological: number; stream: number }): boolean =>
      a.topological < b.topological || (a.topological === b.topological && a.stream < b.stream);
    let from = await toPosition(fromToken);
    if (before(cap, from)) from = cap;
    let bound = toToken ? await toPosition(toToken) : undefined;
    if (dir === 'f' && (!bound || before(cap, bound))) bound = cap;
    const judge = await this.historyJudge(req.userId, roomId);
    const now = this.now();
    const chunk: string[] = [];
    let cursor = from;
    // Hidden events are skipped; a few extra pages find visible ones behind them.
    for (let page = 0; page < 5 && chunk.length < limit; page++) {
      const wanted = limit - chunk.length;
      const events = await this.store.getRoomTimeline(roomId, cursor, dir, wanted, bound);
      for (const ev of events) {
        cursor = dir === 'b' ? positionBefore(ev) : { topological: ev.topological_ordering, stream: ev.stream_ordering };
        if (ev.stream_ordering <= access.upTo && judge(ev)) chunk.push(this.render(ev, now, req));
      }
      if (events.length < wanted) break;
    }
    const base = toLiveToken(nowToken);
    const start = formatStreamToken(withTopologicalRoom(base, from.topological, from.stream));
    const end = formatStreamToken(withTopologicalRoom(base, cursor.topological, cursor.stream));
    return `{"start":${JSON.stringify(start)},"end":${JSON.stringify(end)},"chunk":${jsonArray(chunk)}}`;
  }
}

export { MatrixError };
