import type { PresenceRecord, PresenceState, StreamStore } from '../../../storage/streams.js';
import { RecentPresence } from './recent-presence.js';

export interface PresenceEvent {
  readonly type: 'm.presence';
  readonly content: {
    presence: PresenceState;
    user_id: string;
    last_active_ago: number;
    currently_active?: boolean;
    status_msg?: string | null;
  };
}

export interface PresenceTimings {
  /** Online with no activity for this long: unavailable (Synapse's IDLE_TIMER, 5 min). */
  idleAfterMs: number;
  /** Not syncing for this long: offline (Synapse's SYNC_ONLINE_TIMEOUT, 30 s). */
  offlineAfterMs: number;
  /** How often the idle/offline sweep runs (at most an eighth of offlineAfterMs: see PresenceStream.claimAfterMs). */
  sweepIntervalMs: number;
  /** last_active changes more often than this are not announced (Synapse: 60 s). */
  lastActiveGranularityMs: number;
}

export const DEFAULT_PRESENCE_TIMINGS: PresenceTimings = {
  idleAfterMs: 5 * 60_000,
  offlineAfterMs: 30_000,
  sweepIntervalMs: 5_000,
  lastActiveGranularityMs: 60_000,
};

/**
 * Which process runs a user's presence timers, with several on one database: the one that
 * claimed them last, a process where they poll (it "holds" them). A hold is [when, the
 * holder's rank], and the later one wins, the higher rank breaking a tie, so that two
 * processes claiming one user at once agree on one holder.
 */
export type PresenceHold = readonly [at: number, rank: number];

/** What a process tells the others of a user's presence (PresenceStream.share). */
export interface SharedPresence {
  readonly record: PresenceRecord;
  /** There when the sender holds the user from now on. */
  readonly hold?: PresenceHold;
  /** When the sender last saw the user poll (now, with a poll open), for the holder's offline timer. */
  readonly seen?: number;
}

/** Offline users whose last record a process remembers (PresenceStream.gone) at most. */
const MAX_GONE = 50_000;

export interface PresenceStreamOptions {
  readonly store: StreamStore;
  /** Called with each new position and the user whose presence changed. */
  readonly notify: (position: number, userId: string) => void;
  readonly timings?: Partial<PresenceTimings>;
  readonly now?: () => number;
}

interface Live {
  record: PresenceRecord;
  syncing: number;
  lastSyncTs: number;
  /**
   * 'mine': this process holds the user (it claimed them, or wrote their presence knowing
   * of no other holder) and runs their idle and offline timers.
   * 'foreign': another process does; the record is kept current from its messages.
   * 'unknown': left online by a previous run, and no claim heard; swept here until a poll
   * claims the user.
   */
  hold: 'mine' | 'foreign' | 'unknown';
  /** When the holder claimed the user, by its clock: this process ('mine'), or the latest other one heard of ('foreign'). */
  heldAt: number;
  /** The holder's rank: which process holds the user. */
  heldBy: number;
  /** When this process claimed the user or heard of that hold, by its own clock (how old the hold is). */
  heldSince: number;
  /** The latest poll of the user other processes told of (SharedPresence.seen): the offline timer runs from it too. */
  seenElsewhere: number;
}

export function presenceEvent(r: PresenceRecord, now: number, timings: PresenceTimings = DEFAULT_PRESENCE_TIMINGS): PresenceEvent {
  const ago = Math.max(0, now - r.lastActiveTs);
  const content: PresenceEvent['content'] = { presence: r.presence, user_id: r.userId, last_active_ago: ago };
  if (r.presence === 'online') content.currently_active = ago < timings.lastActiveGranularityMs;
  if (r.statusMsg !== null) content.status_msg = r.statusMsg;
  return { type: 'm.presence', content };
}

/**
 * Presence, as Synapse keeps it: a user polling /events counts as online (offline becomes
 * online when a poll starts); `markActive` (an explicit action) sets online and bumps
 * last_active; with no activity for idleAfterMs an online user turns unavailable, and with
 * no poll for offlineAfterMs anyone turns offline.
 *
 * With several processes (`share` set), one process at a time holds a user (PresenceHold)
 * and runs their timers; the others keep the record, which every write shares. A process
 * where the user polls claims them, and says so: at once if nobody it knows of holds them,
 * otherwise once the hold is claimAfterMs old (at the poll's start, or from the sweep after
 * a poll there), so that a user polling on several processes at once makes a claim
 * every claimAfterMs, not one per poll. Otherwise the process a user's polls had left marked
 * them offline while they polled elsewhere, and answered with presence another process had
 * since changed.
 */
export class PresenceStream {
  private pos: number;
  private readonly live = new Map<string, Live>();
  /** What updatesFor reads instead of the store, when it can. */
  private readonly recent: RecentPresence;
  /** syncStarted's offline-to-online step in flight, per user. */
  private readonly goingOnline = new Map<string, Promise<void>>();
  /**
   * The position of the offline record that ended each user's entry here: an older record
   * heard later (a claim that crossed it) must not bring the entry back.
   */
  private readonly gone = new Map<string, number>();
  readonly timings: PresenceTimings;
  private readonly now: () => number;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private loaded: Promise<void> | undefined;
  /** Which process a hold is (PresenceHold): breaks ties between holds claimed in the same millisecond. */
  private rank = Math.random();
  /** The ranks of processes gone (holderGone). */
  private readonly goneHolders = new Set<number>();
  /**
   * Tells the other processes of a record this process wrote or a user it now holds; set
   * by the replication (Replicator.attach). Alone, a process holds every user it sees.
   */
  share: ((shared: SharedPresence) => void) | undefined;

  constructor(private readonly opts: PresenceStreamOptions, initialPosition: number) {
    this.pos = initialPosition;
    this.recent = new RecentPresence(initialPosition);
    this.timings = { ...DEFAULT_PRESENCE_TIMINGS, ...opts.timings };
    if (opts.timings?.sweepIntervalMs === undefined) this.fitSweepInterval();
    this.now = opts.now ?? Date.now;
  }

  get position(): number {
    return this.pos;
  }

  /** At most every eighth of offlineAfterMs, for the claims (claimAfterMs). */
  private fitSweepInterval(): void {
    this.timings.sweepIntervalMs = Math.min(DEFAULT_PRESENCE_TIMINGS.sweepIntervalMs, Math.max(10, this.timings.offlineAfterMs / 8));
  }

  /** Loads users left online by a previous run (they expire like anyone) and starts the sweep. */
  start(): Promise<void> {
    this.loaded ??= (async () => {
      const now = this.now();
      for (const record of await this.opts.store.presenceNotOffline()) {
        if (!this.live.has(record.userId)) this.live.set(record.userId, { record, syncing: 0, lastSyncTs: now, hold: 'unknown', heldAt: 0, heldBy: 0, heldSince: 0, seenElsewhere: 0 });
      }
      this.sweepTimer = setInterval(() => { void this.sweep(); }, this.timings.sweepIntervalMs);
      this.sweepTimer.unref?.();
    })();
    return this.loaded;
  }

  stop(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Changes the intervals (tests, config); restarts the sweep if it runs. */
  configure(timings: Partial<PresenceTimings>): void {
    Object.assign(this.timings, timings);
    if (timings.offlineAfterMs !== undefined && timings.sweepIntervalMs === undefined) this.fitSweepInterval();
    if (this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = setInterval(() => { void this.sweep(); }, this.timings.sweepIntervalMs);
      this.sweepTimer.unref?.();
    }
  }

  async get(userId: string): Promise<PresenceRecord | null> {
    const l = this.live.get(userId);
    if (l) return l.record;
    return (await this.opts.store.presenceOf([userId]))[0] ?? null;
  }

  /** Sets presence explicitly (PUT /presence/{userId}/status). Returns the new position. */
  async set(userId: string, presence: PresenceState, statusMsg?: string | null): Promise<number> {
    const prev = await this.get(userId);
    const now = this.now();
    const lastActiveTs = presence === 'online' ? now : prev?.lastActiveTs ?? now;
    return this.write(userId, { presence, statusMsg: statusMsg === undefined ? prev?.statusMsg ?? null : statusMsg, lastActiveTs });
  }

  /** The user did something: online, last_active now. */
  async markActive(userId: string): Promise<number> {
    const prev = await this.get(userId);
    const now = this.now();
    if (prev && prev.presence === 'online' && now - prev.lastActiveTs < this.timings.lastActiveGranularityMs) {
      const l = this.live.get(userId);
      if (l) l.record = { ...l.record, lastActiveTs: now };
      return this.pos;
    }
    return this.write(userId, { presence: 'online', statusMsg: prev?.statusMsg ?? null, lastActiveTs: now });
  }

  /**
   * A poll of /events started: offline turns online (Synapse's user_syncing). Call the
   * returned function when the poll ends.
   */
  async syncStarted(userId: string): Promise<() => void> {
    // Polls of one offline user that start together (a client reconnecting, many devices)
    // share one read and one write: each on its own saw offline and wrote online again, a
    // presence change per poll that woke every poll watching the user.
    let online = this.goingOnline.get(userId);
    if (!online) {
      online = (async () => {
        const prev = await this.get(userId);
        if (!prev || prev.presence === 'offline') await this.markActive(userId);
        // online by another process's doing, or held by another a while: held here from now on
        const l = this.live.get(userId) ?? (prev && prev.presence !== 'offline' ? this.liveOf(prev, 'foreign') : undefined);
        if (l && this.mayClaim(l, this.now())) this.claim(l);
      })().finally(() => this.goingOnline.delete(userId));
      this.goingOnline.set(userId, online);
    }
    await online;
    const l = this.live.get(userId);
    if (!l) return () => {};
    return this.startSyncing(l);
  }

  /**
   * How old another process's hold must be before a poll here claims the user. A claim says
   * when its maker last saw the user poll, and a process that saw a later one says so as it
   * yields (`seen`): so the new holder's offline timer starts from the latest poll anyone
   * saw until then. A process where the user polls after that claims the user (at the
   * poll's start, or from its sweep, while the poll is open or after it ended) within
   * claimAfterMs and a sweep (an eighth) of hearing of the hold: the holder's timer runs
   * offlineAfterMs from no earlier than its hold, which leaves more than half of it for the
   * messages.
   */
  private get claimAfterMs(): number {
    return this.timings.offlineAfterMs / 4;
  }

  /** Whether a poll here claims the user: nobody is known to hold them, or another process has for claimAfterMs. */
  private mayClaim(l: Live, now: number): boolean {
    return l.hold === 'unknown' || (l.hold === 'foreign' && now - l.heldSince >= this.claimAfterMs);
  }

  /** This process holds the user from now on (they poll here), and says so. */
  private claim(l: Live): void {
    if (l.hold === 'mine') return;
    const now = this.now();
    l.hold = 'mine';
    // later than the hold it takes over, whatever the clocks say: the poll started after it
    l.heldAt = Math.max(now, l.heldAt + 1);
    l.heldBy = this.rank;
    l.heldSince = now;
    this.shareHold(l, now);
  }

  private shareHold(l: Live, now: number): void {
    this.share?.({ record: l.record, hold: [l.heldAt, this.rank], seen: this.lastSeen(l, now) });
  }

  /** When this process last saw the user poll: now, while a poll is open. */
  private lastSeen(l: Live, now: number): number {
    return l.syncing > 0 ? now : l.lastSyncTs;
  }

  /** The rank this process's holds carry from now on: an id the others can name when it goes (holderGone). */
  identify(rank: number): void {
    for (const l of this.live.values()) if (l.hold === 'mine') l.heldBy = rank;
    this.rank = rank;
  }

  /**
   * The process of that rank has gone (said bye, or went silent): the users it held are
   * held by nobody known, swept here offlineAfterMs from now unless a poll claims them.
   */
  holderGone(rank: number): void {
    // its last messages may come after it is gone: their holds count for nothing
    if (this.goneHolders.size >= MAX_GONE) this.goneHolders.clear();
    this.goneHolders.add(rank);
    const now = this.now();
    for (const l of this.live.values()) {
      if (l.hold !== 'foreign' || l.heldBy !== rank) continue;
      l.hold = 'unknown';
      l.lastSyncTs = Math.max(l.lastSyncTs, now);
    }
  }

  /** Says again which users this process holds (asked by a process just started, or the bus was down: claims may have been lost). */
  shareHolds(): void {
    const now = this.now();
    for (const l of this.live.values()) if (l.hold === 'mine') this.shareHold(l, now);
  }

  /**
   * Another process wrote this record (a newer one than any here wins) or, with `hold`,
   * holds the user from now on.
   */
  applyShared({ record, hold, seen }: SharedPresence): void {
    const userId = record.userId;
    const l = this.live.get(userId);
    if (l && seen !== undefined && seen > l.seenElsewhere) l.seenElsewhere = seen;
    if (record.streamId < (l ? l.record.streamId : this.gone.get(userId) ?? -1)) {
      if (l && hold) this.yieldTo(l, hold, seen);
      return;
    }
    if (record.presence === 'offline') {
      // The holder saw no poll for offlineAfterMs, but one is open here (its claim crossed
      // that write, or was lost): online again, held here.
      if (l && l.syncing > 0) {
        l.record = record;
        l.hold = 'unknown';
        this.backOnline(l);
      } else {
        this.forget(userId, record.streamId);
      }
      return;
    }
    if (!l) {
      // kept so that this process's own writes for the user do not take the hold from it
      if (hold) this.yieldTo(this.liveOf(record, 'foreign'), hold, seen);
      return;
    }
    l.record = record;
    if (hold) this.yieldTo(l, hold, seen);
  }

  private backOnline(l: Live): void {
    const userId = l.record.userId;
    if (this.goingOnline.has(userId)) return;
    const online = this.write(userId, { presence: 'online', statusMsg: l.record.statusMsg, lastActiveTs: this.now() })
      .then(() => {}, () => {})
      .finally(() => this.goingOnline.delete(userId));
    this.goingOnline.set(userId, online);
  }

  /**
   * Every process ends up with the greatest hold it heard of (its own included) as the
   * holder. A claimer whose claim loses has not heard of the hold that beats it (a message
   * lost, a clock behind), so it is told again. A process that saw the user poll later than
   * a new holder did tells it so.
   */
  private yieldTo(l: Live, [at, rank]: PresenceHold, seen: number | undefined): void {
    if (this.goneHolders.has(rank)) return;
    const now = this.now();
    const later = at > l.heldAt || (at === l.heldAt && rank > l.heldBy);
    if (l.hold === 'mine' && !later) {
      this.shareHold(l, now);
      return;
    }
    // (an entry left by a previous run has seen no poll here)
    const polledHere = l.hold !== 'unknown' && l.lastSyncTs > 0;
    l.hold = 'foreign';
    if (later) {
      l.heldAt = at;
      l.heldBy = rank;
      l.heldSince = now;
      const mine = this.lastSeen(l, now);
      if (polledHere && mine > (seen ?? 0)) this.share?.({ record: l.record, seen: mine });
    }
  }

  private startSyncing(l: Live): () => void {
    l.syncing++;
    l.lastSyncTs = this.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      l.syncing--;
      l.lastSyncTs = this.now();
    };
  }

  /**
   * syncStarted when it needs no write (the user is online or unavailable here): answered
   * without a promise, as nearly every poll is; undefined when syncStarted must run.
   */
  syncStartedNow(userId: string): (() => void) | undefined {
    const l = this.live.get(userId);
    // (a user held here, as nearly every one polling here is, needs no clock reading)
    if (!l || l.record.presence === 'offline' || (l.hold !== 'mine' && this.mayClaim(l, this.now()))) return undefined;
    return this.startSyncing(l);
  }

  /** Applies the idle and offline rules now; returns how many users changed. */
  async sweep(): Promise<number> {
    const now = this.now();
    let changed = 0;
    // first the claims, which the writes below would hold up: a user with a poll open here,
    // or who polled here since another process's hold, once mayClaim (its holder, if any,
    // does not know of it)
    for (const l of this.live.values()) {
      const polled = l.syncing > 0 || (l.hold === 'foreign' && l.lastSyncTs > l.heldSince);
      if (l.hold !== 'mine' && polled && this.mayClaim(l, now)) this.claim(l);
    }
    for (const [userId, l] of [...this.live]) {
      // its holder runs its timers
      if (l.hold === 'foreign') continue;
      const r = l.record;
      if (r.presence !== 'offline' && l.syncing === 0 && now - Math.max(l.lastSyncTs, l.seenElsewhere) >= this.timings.offlineAfterMs
        && now - r.lastActiveTs >= this.timings.offlineAfterMs) {
        await this.write(userId, { presence: 'offline', statusMsg: r.statusMsg, lastActiveTs: r.lastActiveTs });
        changed++;
      } else if (r.presence === 'online' && now - r.lastActiveTs >= this.timings.idleAfterMs) {
        await this.write(userId, { presence: 'unavailable', statusMsg: r.statusMsg, lastActiveTs: r.lastActiveTs });
        changed++;
      }
    }
    return changed;
  }

  /** Presence changes in (from, to] of the users `include` accepts, oldest first, one per user. */
  async updatesFor(include: (userId: string) => boolean, from: number, to: number): Promise<PresenceRecord[]> {
    const rows = this.recent.inRange(from, to) ?? await this.opts.store.presenceInRange(from, to);
    return rows.filter((r) => include(r.userId));
  }

  /** The current presence of these users (those never seen are left out). */
  async snapshot(userIds: readonly string[]): Promise<PresenceRecord[]> {
    const out: PresenceRecord[] = [];
    const missing: string[] = [];
    for (const u of userIds) {
      const l = this.live.get(u);
      if (l) out.push(l.record);
      else missing.push(u);
    }
    if (missing.length) out.push(...(await this.opts.store.presenceOf(missing)));
    return out;
  }

  event(r: PresenceRecord, now = this.now()): PresenceEvent {
    return presenceEvent(r, now, this.timings);
  }

  /** The user's entry, made if there is none: held here, or by another process (not polled here yet: lastSyncTs 0). */
  private liveOf(record: PresenceRecord, hold: 'mine' | 'foreign'): Live {
    let l = this.live.get(record.userId);
    if (!l) {
      this.gone.delete(record.userId);
      const now = this.now();
      this.live.set(record.userId, (l = hold === 'mine'
        ? { record, syncing: 0, lastSyncTs: now, hold, heldAt: now, heldBy: this.rank, heldSince: now, seenElsewhere: 0 }
        : { record, syncing: 0, lastSyncTs: 0, hold, heldAt: 0, heldBy: 0, heldSince: 0, seenElsewhere: 0 }));
    }
    return l;
  }

  /** Ends the user's entry at an offline record (gone). */
  private forget(userId: string, streamId: number): void {
    this.live.delete(userId);
    this.gone.delete(userId);
    this.gone.set(userId, streamId);
    if (this.gone.size > MAX_GONE) this.gone.delete(this.gone.keys().next().value!);
  }

  private async write(userId: string, p: Omit<PresenceRecord, 'streamId' | 'userId'>): Promise<number> {
    const pos = await this.opts.store.putPresence({ userId, ...p });
    this.pos = Math.max(this.pos, pos);
    const record: PresenceRecord = { userId, ...p, streamId: pos };
    this.recent.add(record);
    const known = this.live.get(userId)?.record.streamId ?? this.gone.get(userId) ?? -1;
    let held: Live | undefined;
    // unless another process wrote a newer record while this one was on its way
    if (pos >= known) {
      if (p.presence === 'offline') {
        this.forget(userId, pos);
      } else {
        const l = this.liveOf(record, 'mine');
        l.record = record;
        // a user another process holds stays with it; one held by nobody known is held here
        if (l.hold === 'unknown') {
          l.hold = 'mine';
          l.heldAt = l.heldSince = this.now();
          l.heldBy = this.rank;
        }
        if (l.hold === 'mine') held = l;
      }
    }
    if (held) this.shareHold(held, this.now());
    else this.share?.({ record });
    this.opts.notify(pos, userId);
    return pos;
  }
}
