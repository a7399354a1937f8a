import type { PresenceRecord } from '../../../storage/streams.js';

/**
 * The presence changes this process wrote lately, as the store's presenceInRange would
 * return them, so that the polls a change wakes (every user sharing a room with the one
 * who changed) read it from memory instead of each running the same range query.
 *
 * The store keeps one row per user (its latest change), so a range only holds the users
 * whose latest change falls in it; here too each user keeps only the latest record. (One
 * difference: after another process changed a user, the store leaves that user out of
 * earlier ranges, where this log may still show the change made here; the poll sees the
 * newer one in its next range either way.)
 * A range is answered only when this process wrote every position in it: positions are
 * handed out one by one, so a position skipped between two local writes was another
 * process's (or a write that finished out of order), and the log starts over from there.
 */
export class RecentPresence {
  /** Records in position order; an entry whose user has a newer one is dead. */
  private log: PresenceRecord[] = [];
  private readonly latest = new Map<string, PresenceRecord>();
  /** Every position in (coveredFrom, lastPos] was written here and is in the log (or superseded in it). */
  private coveredFrom: number;
  private lastPos: number;

  constructor(position: number, private readonly maxUsers = 1_000) {
    this.coveredFrom = position;
    this.lastPos = position;
  }

  add(record: PresenceRecord): void {
    const pos = record.streamId;
    if (pos !== this.lastPos + 1) {
      // someone else wrote in between, or writes finished out of order
      this.log = [];
      this.latest.clear();
      this.lastPos = Math.max(pos, this.lastPos);
      this.coveredFrom = this.lastPos;
      return;
    }
    this.lastPos = pos;
    this.latest.set(record.userId, record);
    this.log.push(record);
    if (this.latest.size > this.maxUsers) {
      const oldest = this.log.findIndex((r) => this.latest.get(r.userId) === r);
      const evicted = this.log[oldest]!;
      this.latest.delete(evicted.userId);
      this.coveredFrom = evicted.streamId;
      this.log = this.log.slice(oldest + 1);
    } else if (this.log.length > 2 * this.maxUsers) {
      this.log = this.log.filter((r) => this.latest.get(r.userId) === r);
    }
  }

  /** presenceInRange(from, to), or undefined when this log cannot tell. */
  inRange(from: number, to: number): PresenceRecord[] | undefined {
    if (from < this.coveredFrom || to > this.lastPos) return undefined;
    const out: PresenceRecord[] = [];
    // the log is in position order: the first record after `from`, found by bisection
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.log[mid]!.streamId <= from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.log.length; i++) {
      const r = this.log[i]!;
      if (r.streamId > to) break;
      if (this.latest.get(r.userId) === r) out.push(r);
    }
    return out;
  }
}
