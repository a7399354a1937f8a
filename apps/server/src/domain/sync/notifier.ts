/**
 * Wakes waiting /events polls when something they may care about happens: Synapse's
 * notifier (synapse/notifier.py) in plain TypeScript.
 *
 * - One UserStream per polling user: the position up to which that user has been
 *   notified, and the parked waits. Rooms index the user streams of their members (joined
 *   and invited), so `onNewEvent` touches only the users an event concerns.
 * - A wait resolves at once when the user's stream is already ahead of `from`, so an event
 *   landing between the request and the wait is never missed.
 * - A wake-up whose check finds nothing visible (spurious) just waits again.
 * - Call `onNewEvent` only for committed (persisted-up-to) positions, and after the
 *   sender has had its answer (e.g. from setImmediate): fan-out is not the sender's cost.
 * - Serialisation is not done here: a woken wait's `check` reads the events and renders
 *   them through events/format.ts's EventJsonCache, which stringifies each event once.
 */
import { advance, isAfter, maxToken, type StreamKey, type StreamToken } from './stream-token.js';

export interface NotifyTargets {
  readonly users?: Iterable<string>;
  readonly rooms?: Iterable<string>;
}

/** Reads what the user may see in (from, to]; null when there is nothing. */
export type CheckForUpdates<R> = (from: StreamToken, to: StreamToken) => Promise<R | null>;

export type WaitOutcome<R> =
  | { readonly status: 'result'; readonly result: R }
  /** Nothing visible before the deadline: answer an empty chunk with this `end`. */
  | { readonly status: 'timeout'; readonly end: StreamToken }
  /** The client went away; nothing to send. */
  | { readonly status: 'aborted' };

export interface NotifierOptions {
  /** Rooms whose events concern the user (joined and invited), read when a stream is made. */
  readonly roomsForUser: (userId: string) => Iterable<string>;
  /** User streams without waits are dropped after this long (Synapse: 10 minutes). */
  readonly streamExpiryMs?: number;
  readonly now?: () => number;
}

export interface NotifierStats {
  readonly userStreams: number;
  readonly rooms: number;
  /** Waits parked until a wake-up. */
  readonly waiters: number;
  /** waitForEvents calls in progress, parked or checking. */
  readonly activeWaits: number;
  readonly timers: number;
  readonly abortListeners: number;
  /** Parked waits woken by a new event, since start (the metrics' notifier wake-ups). */
  readonly wakeups: number;
}

interface Waiter {
  wake(): void;
}

/**
 * An early end for a wait that is not an EventTarget. A held poll otherwise needs an
 * AbortController and a listener on it (about 1 KiB, and EventTarget bookkeeping on every
 * add and remove), which 10,000 held polls feel. `handleEvent` lets it listen to an
 * AbortSignal itself: `signal.addEventListener('abort', cancel)`, no closure.
 */
export class WaitCancel {
  aborted = false;
  /** The armed wait, set by the notifier while it waits. */
  listener: { handleEvent(): void } | null = null;

  cancel(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.listener?.handleEvent();
  }

  handleEvent(): void {
    this.cancel();
  }
}

class UserStream {
  currentToken: StreamToken;
  waiters = new Set<Waiter>();
  readonly rooms = new Set<string>();
  activeWaits = 0;
  lastActive: number;
  constructor(readonly userId: string, token: StreamToken, now: number) {
    this.currentToken = token;
    this.lastActive = now;
  }
}

const ABORTED = Object.freeze({ status: 'aborted' as const });

export class Notifier {
  private current: StreamToken;
  private readonly streams = new Map<string, UserStream>();
  private readonly roomIndex = new Map<string, Set<UserStream>>();
  private readonly roomsForUser: (userId: string) => Iterable<string>;
  private readonly expiryMs: number;
  private readonly now: () => number;
  private readonly book: WaitBook;
  private wakeups = 0;

  constructor(initial: StreamToken, opts: NotifierOptions) {
    this.current = initial;
    this.roomsForUser = opts.roomsForUser;
    this.expiryMs = opts.streamExpiryMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
    this.book = { parked: 0, active: 0, timers: 0, listeners: 0, now: this.now };
  }

  /** The newest committed position of every stream. */
  get currentToken(): StreamToken {
    return this.current;
  }

  /**
   * Moves "now" to a committed position at once, waking nobody: reads that follow a write
   * see it even before its fan-out (onNewEvent, deferred) has run.
   */
  advanceCurrent(key: StreamKey, position: number): void {
    this.current = advance(this.current, key, position);
  }

  onNewEvent(key: StreamKey, position: number, targets: NotifyTargets = {}): void {
    this.current = advance(this.current, key, position);
    // A user reached twice (named, and through a room) is harmless: the second time
    // their token is already advanced and their waiters already woken.
    if (targets.rooms) {
      for (const roomId of targets.rooms) {
        const set = this.roomIndex.get(roomId);
        if (set) for (const s of set) this.notify(s, key, position);
      }
    }
    if (targets.users) {
      for (const userId of targets.users) {
        const s = this.streams.get(userId);
        if (s) this.notify(s, key, position);
      }
    }
  }

  /** Whether a user stream (a poll now or within the expiry) watches the room. */
  watchesRoom(roomId: string): boolean {
    return this.roomIndex.has(roomId);
  }

  /** Call on a join or invite, so the user hears of the room's events from now on. */
  userJoinedRoom(userId: string, roomId: string): void {
    const s = this.streams.get(userId);
    if (s) this.index(s, roomId);
  }

  /** Call on a leave or ban, after notifying the user of that event. */
  userLeftRoom(userId: string, roomId: string): void {
    const s = this.streams.get(userId);
    if (!s) return;
    s.rooms.delete(roomId);
    const set = this.roomIndex.get(roomId);
    set?.delete(s);
    if (set?.size === 0) this.roomIndex.delete(roomId);
  }

  waitForEvents<R>(
    userId: string, from: StreamToken, timeoutMs: number, signal: AbortSignal | WaitCancel, check: CheckForUpdates<R>,
  ): Promise<WaitOutcome<R>> {
    if (signal.aborted) return Promise.resolve(ABORTED);
    let stream: UserStream;
    try {
      stream = this.streamFor(userId);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      new PendingWait(this, this.book, stream, from, timeoutMs, signal, check, resolve, reject).step();
    });
  }

  /** Drops user streams idle for longer than the expiry; returns how many. */
  removeExpiredStreams(): number {
    const cutoff = this.now() - this.expiryMs;
    let removed = 0;
    for (const s of this.streams.values()) {
      if (s.activeWaits > 0 || s.lastActive > cutoff) continue;
      for (const roomId of [...s.rooms]) this.userLeftRoom(s.userId, roomId);
      this.streams.delete(s.userId);
      removed++;
    }
    return removed;
  }

  stats(): NotifierStats {
    return {
      userStreams: this.streams.size,
      rooms: this.roomIndex.size,
      waiters: this.book.parked,
      activeWaits: this.book.active,
      timers: this.book.timers,
      abortListeners: this.book.listeners,
      wakeups: this.wakeups,
    };
  }

  private streamFor(userId: string): UserStream {
    let s = this.streams.get(userId);
    if (!s) {
      s = new UserStream(userId, this.current, this.now());
      this.streams.set(userId, s);
      for (const roomId of this.roomsForUser(userId)) this.index(s, roomId);
    }
    return s;
  }

  private index(s: UserStream, roomId: string): void {
    s.rooms.add(roomId);
    let set = this.roomIndex.get(roomId);
    if (!set) this.roomIndex.set(roomId, (set = new Set()));
    set.add(s);
  }

  private notify(s: UserStream, key: StreamKey, position: number): void {
    s.currentToken = advance(s.currentToken, key, position);
    if (s.waiters.size === 0) return;
    // Swap first: a woken wait that parks again joins the new set, not this loop.
    const woken = s.waiters;
    s.waiters = new Set();
    this.wakeups += woken.size;
    for (const w of woken) w.wake();
  }

}

/** What the waits of one notifier count, and its clock. */
interface WaitBook {
  parked: number;
  active: number;
  timers: number;
  listeners: number;
  readonly now: () => number;
}

function waitTimedOut(w: PendingWait<unknown>): void {
  w.timedOut();
}

/**
 * One waitForEvents call. An object and a few methods rather than an async function with
 * a loop: a suspended async function keeps its generator, its whole register file and a
 * promise chain per await for as long as it waits. For a held poll (minutes, thousands at
 * once) that was most of a kilobyte; parked, this holds its own fields and the promise's
 * two functions (docs/benchmarks.md, eighteenth round).
 *
 * The loop (step): if the user's stream moved past `prev`, check (prev, now] and answer
 * what it finds, or move `prev` on and look again; else answer the timeout, or park until
 * a wake-up (a new event, the deadline, an abort) runs the loop again.
 */
class PendingWait<R> implements Waiter {
  private prev: StreamToken;
  private timer: NodeJS.Timeout | undefined = undefined;
  private armed = false;
  private expired: boolean;
  private aborted = false;
  private parked = false;
  private settled = false;

  constructor(
    private readonly notifier: Notifier,
    private readonly book: WaitBook,
    private readonly stream: UserStream,
    from: StreamToken,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | WaitCancel,
    private readonly check: CheckForUpdates<R>,
    private readonly resolve: (outcome: WaitOutcome<R>) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.prev = from;
    this.expired = !(timeoutMs > 0);
    // counted here and given back in finish()
    stream.activeWaits++;
    book.active++;
  }

  step(): void {
    if (this.settled) return;
    if (this.aborted || this.signal.aborted) return this.end(ABORTED);
    if (isAfter(this.stream.currentToken, this.prev)) {
      const to = this.notifier.currentToken;
      try {
        // Promise.resolve: a check that answers without a promise is taken as its value
        Promise.resolve(this.check(this.prev, to)).then((result) => this.checked(result, to), (err: unknown) => this.fail(err));
      } catch (err) {
        this.fail(err);
      }
      return;
    }
    if (this.expired) return this.end({ status: 'timeout', end: maxToken(this.prev, this.notifier.currentToken) });
    if (!this.armed) {
      // Armed on the first park only: a poll answered at once costs no timer.
      this.armed = true;
      this.timer = setTimeout(waitTimedOut, this.timeoutMs, this as PendingWait<unknown>);
      this.book.timers++;
      if (this.signal instanceof WaitCancel) this.signal.listener = this;
      else this.signal.addEventListener('abort', this, { once: true });
      this.book.listeners++;
    }
    this.parked = true;
    this.book.parked++;
    this.stream.waiters.add(this);
  }

  private checked(result: R | null, to: StreamToken): void {
    if (this.settled) return;
    if (this.aborted || this.signal.aborted) return this.end(ABORTED);
    if (result !== null) return this.end({ status: 'result', result });
    this.prev = maxToken(this.prev, to);
    this.step();
  }

  /**
   * Runs the loop again a microtask later, as an awaited wake-up did. A wake by notify()
   * already swapped the set; a timeout or abort leaves the wait in it.
   */
  wake(): void {
    if (!this.parked) return;
    this.parked = false;
    this.book.parked--;
    this.stream.waiters.delete(this);
    queueMicrotask(() => this.step());
  }

  timedOut(): void {
    this.timer = undefined;
    this.book.timers--;
    this.expired = true;
    this.wake();
  }

  /** The client left or the server is stopping: as an AbortSignal's listener, or a WaitCancel's. */
  handleEvent(): void {
    this.aborted = true;
    this.wake();
  }

  private end(outcome: WaitOutcome<R>): void {
    if (this.settled) return;
    this.finish();
    this.resolve(outcome);
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.finish();
    this.reject(err);
  }

  private finish(): void {
    this.settled = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.book.timers--;
      this.timer = undefined;
    }
    if (this.armed) {
      if (this.signal instanceof WaitCancel) this.signal.listener = null;
      else this.signal.removeEventListener('abort', this);
      this.book.listeners--;
    }
    this.stream.activeWaits--;
    this.book.active--;
    this.stream.lastActive = this.book.now();
  }
}
