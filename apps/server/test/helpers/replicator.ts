/**
 * Driving a Replicator by hand in the PostgreSQL tests: a stand-in for the SyncService it
 * feeds, no safety poll (which could read a range before the test hands its events over),
 * its queue to await, and a look at what it reads from the database.
 */
import type { SyncService } from '../../src/domain/sync/sync-service.js';
import type { Replicator } from '../../src/replication/replicator.js';

type Row = Record<string, unknown>;

/** What Replicator uses of a SyncService, with `overrides` for what the test watches. */
export function standInSync(overrides: Record<string, unknown> = {}): SyncService {
  return {
    currentToken: () => ({ room: { stream: 0 } }),
    streams: { typing: { setTyping: () => 0 }, presence: { applyShared: () => {}, shareHolds: () => {}, identify: () => {}, holderGone: () => {} } },
    servesRoom: () => true,
    onPersisted: () => {},
    ...overrides,
  } as unknown as SyncService;
}

/** Attaches `replicator` to `sync` and stops its safety poll. */
export function attachQuietly(replicator: Replicator, sync: SyncService): void {
  replicator.attach(sync);
  clearInterval((replicator as unknown as { safetyTimer: ReturnType<typeof setInterval> }).safetyTimer);
}

type Inside = { queue: Promise<void>; last: number; gap: { at: number } | null };

/** Resolves once everything queued so far (ingests, redactions) is done: a gap waited for is not. */
export function queued(replicator: Replicator): Promise<void> {
  return (replicator as unknown as Inside).queue;
}

/**
 * Resolves once everything queued so far is done, including what waits at a position no
 * notice covered (Replicator.ingest reads it after GAP_WAIT_MS: the writer's notice was lost).
 */
export async function settled(replicator: Replicator): Promise<void> {
  const inside = replicator as unknown as Inside;
  // bounded: a forced read that failed leaves the gap for the next notice or safety poll
  for (let i = 0; i < 300; i++) {
    await inside.queue;
    if (!inside.gap || inside.last >= inside.gap.at) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Calls `seen` with each event-range read's parameters and rows. */
export function watchRangeReads(replicator: Replicator, seen: (params: unknown[], rows: Row[]) => void): void {
  const reader = (replicator as unknown as { reader: { query: (...args: unknown[]) => Promise<{ rows: Row[] }> } }).reader;
  const query = reader.query.bind(reader);
  reader.query = async (...args: unknown[]) => {
    const res = await query(...args);
    if (String(args[0]).includes('stream_ordering > $1') && Array.isArray(args[1])) seen(args[1], res.rows);
    return res;
  };
}

type Closable = { close(): Promise<void> } | { end(): Promise<void> } | { drop(): Promise<void> } | undefined;

/** Ends what a test opened, one after another in the order given; what set-up never made is skipped. */
export async function closeInOrder(...items: Closable[]): Promise<void> {
  for (const item of items) {
    if (!item) continue;
    if ('close' in item) await item.close();
    else if ('end' in item) await item.end();
    else await item.drop();
  }
}
