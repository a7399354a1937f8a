import type { PresenceState } from '../storage/streams.js';

/**
 * Bytes of `evs` (room ids' UTF-8 and 24 for the rest of each entry) one events message
 * carries at most, so that it fits a NOTIFY's 8000 bytes; receivers read what it leaves out.
 */
export const EVS_BUDGET = 6000;

export type NamedEvent = readonly [position: number, roomId: string];

/** The leading entries of `evs` that fit EVS_BUDGET: what a notice may name. */
export function withinBudget(evs: readonly NamedEvent[]): NamedEvent[] {
  let size = 0;
  let n = 0;
  for (const [, roomId] of evs) {
    size += Buffer.byteLength(roomId) + 24;
    if (size > EVS_BUDGET) break;
    n++;
  }
  return evs.slice(0, n);
}

/**
 * What server processes on one database tell each other. Positions are always committed
 * (persisted-up-to) positions: a receiver may advance to them at once.
 */
export type ReplicationMessage =
  /**
   * Room events up to `pos` are committed: read (last ingested, pos] from the database.
   * `evs`, when there, names the announced events that a receiver may leave unread unless
   * it serves their rooms (position and room id): events that change nothing a process
   * keeps but its caches (not memberships, not redactions). Positions it does not name
   * are read as ever. `from`, when there, says the notice's own positions are (from, pos]:
   * a receiver then knows that a position below `pos` outside them is another writer's,
   * whose notice may still be on its way (Replicator.ingest waits for it a moment). Without
   * it, every position up to `pos` counts as announced.
   */
  | { readonly t: 'events'; readonly pos: number; readonly from?: number; readonly evs?: readonly NamedEvent[] }
  /** A redaction was applied to `eventId` (after its m.room.redaction event was announced). */
  | { readonly t: 'redacted'; readonly eventId: string }
  | { readonly t: 'receipt'; readonly pos: number; readonly roomId: string }
  | { readonly t: 'account_data'; readonly pos: number; readonly userId: string }
  | { readonly t: 'presence'; readonly pos: number; readonly userId: string }
  /**
   * A user's presence record, as the sender wrote or holds it; `hold`, when there, says the
   * sender runs the user's presence timers from then on (PresenceStream's PresenceHold), and
   * `seen` when the sender last saw the user poll.
   */
  | { readonly t: 'presence_state'; readonly userId: string; readonly presence: PresenceState; readonly statusMsg: string | null;
    readonly lastActiveTs: number; readonly streamId: number; readonly hold?: readonly [at: number, rank: number]; readonly seen?: number }
  /** A process just started asks the others which users they hold (presence_state with `hold`). */
  | { readonly t: 'presence_ask' }
  /** Typing is not stored: each process applies it to its own in-memory typing stream. */
  | { readonly t: 'typing'; readonly roomId: string; readonly userId: string; readonly typing: boolean; readonly timeoutMs: number };

/**
 * The cross-process notification path. PgNotifyBus (LISTEN/NOTIFY) is the one Axon ships;
 * anything that delivers each published message to every other process can replace it
 * (Redis pub/sub, NATS, ...). Delivery may be lost (e.g. while reconnecting): receivers
 * catch up from the database on `onReconnect` and on a slow safety timer.
 */
export interface ReplicationBus {
  publish(message: ReplicationMessage): void;
  /** Messages from other processes (never this process's own). */
  onMessage(handler: (message: ReplicationMessage) => void): void;
  /** Called after the bus lost its connection and got it back (messages may be missing). */
  onReconnect(handler: () => void): void;
  /**
   * For a bus that publishes nothing while no other process listens (PgNotifyBus): called
   * once, when it first hears from another process. What was committed before then went
   * unannounced; the handler announces the newest positions.
   */
  onPeer?(handler: () => void): void;
  /**
   * For a bus on PostgreSQL's NOTIFY: the channel and the payload prefix (origin) under
   * which a notice sent by another statement (the event store's in-band one) arrives as
   * this process's; null while room events are not announced (no other process heard).
   */
  noticeTarget?(): { channel: string; prefix: string } | null;
  /** This process's id on the bus, as onPeerGone names the others. */
  readonly origin?: string;
  /** For a bus that keeps track of the other processes: called with a process's id once it has said bye or gone silent. */
  onPeerGone?(handler: (origin: string) => void): void;
  /** Whether another process has been heard from (the event store gathers larger batches then). */
  readonly hasPeers?: boolean;
  /** Counts a notice the event store sent in band, to noticeTarget (for the metrics). */
  sentInBand?(): void;
  close(): Promise<void>;
}
