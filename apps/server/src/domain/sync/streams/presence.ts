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
  /** How often the idle/offline sweep runs. */
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
 */
export class PresenceStream {
  private pos: number;
  private readonly live = new Map<string, Live>();
  /** What updatesFor reads instead of the store, when it can. */
  private readonly recent: RecentPresence;
  /** syncStarted's offline-to-online step in flight, per user. */
  private readonly goingOnline = new Map<string, Promise<void>>();
  readonly timings: PresenceTimings;
  private readonly now: () => number;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private loaded: Promise<void> | undefined;

  constructor(private readonly opts: PresenceStreamOptions, initialPosition: number) {
    this.pos = initialPosition;
    this.recent = new RecentPresence(initialPosition);
    this.timings = { ...DEFAULT_PRESENCE_TIMINGS, ...opts.timings };
    this.now = opts.now ?? Date.now;
  }

  get position(): number {
    return this.pos;
  }

  /** Loads users left online by a previous run (they expire like anyone) and starts the sweep. */
  start(): Promise<void> {
    this.loaded ??= (async () => {
      const now = this.now();
      for (const record of await this.opts.store.presenceNotOffline()) {
        if (!this.live.has(record.userId)) this.live.set(record.userId, { record, syncing: 0, lastSyncTs: now });
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
      this.liveOf(prev).record = { ...prev, lastActiveTs: now };
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
      })().finally(() => this.goingOnline.delete(userId));
      this.goingOnline.set(userId, online);
    }
    await online;
    const l = this.live.get(userId);
    if (!l) return () => {};
    return this.startSyncing(l);
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
    if (!l || l.record.presence === 'offline') return undefined;
    return this.startSyncing(l);
  }

  /** Applies the idle and offline rules now; returns how many users changed. */
  async sweep(): Promise<number> {
    const now = this.now();
    let changed = 0;
    for (const [userId, l] of [...this.live]) {
      const r = l.record;
      if (r.presence !== 'offline' && l.syncing === 0 && now - l.lastSyncTs >= this.timings.offlineAfterMs
        && now - r.lastActiveTs >= this.timings.offlineAfterMs) {
        await this.write(userId, { presence: 'offline', statusMsg: r.statusMsg, lastActiveTs: r.lastActiveTs });
        this.live.delete(userId);
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

  private liveOf(record: PresenceRecord): Live {
    let l = this.live.get(record.userId);
    if (!l) this.live.set(record.userId, (l = { record, syncing: 0, lastSyncTs: this.now() }));
    return l;
  }

  private async write(userId: string, p: Omit<PresenceRecord, 'streamId' | 'userId'>): Promise<number> {
    const pos = await this.opts.store.putPresence({ userId, ...p });
    this.pos = Math.max(this.pos, pos);
    const record: PresenceRecord = { userId, ...p, streamId: pos };
    this.recent.add(record);
    if (p.presence === 'offline') this.live.delete(userId);
    else this.liveOf(record).record = record;
    this.opts.notify(pos, userId);
    return pos;
  }
}
