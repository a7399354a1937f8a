/**
 * The group-commit batch both event stores are held to (the SQLite and PostgreSQL
 * group-commit tests): concurrent appends in one batch, each plan seeing the state the
 * previous ones left, one plan failing after it wrote, a txn id repeated in the batch.
 */
import { expect } from 'vitest';
import type { AppendResult, EventStore, NewEvent } from '../../src/storage/events.js';

let n = 0;

export const newEvent = (roomId: string, type: string, content: Record<string, unknown>, stateKey?: string): NewEvent => ({
  event_id: `$e${++n}`, room_id: roomId, type, sender: '@u:x', content, origin_server_ts: n,
  ...(stateKey !== undefined ? { state_key: stateKey } : {}),
} as NewEvent);

/** Runs the batch in rooms r1 and r2 (new rooms) and checks what any store must give back. */
export async function appendMixedBatch(events: EventStore, r1: string, r2: string): Promise<{ start: number; results: PromiseSettledResult<AppendResult>[]; ok: (AppendResult | undefined)[] }> {
  const ev = newEvent;
  const start = await events.currentStreamOrdering();
  const results = await Promise.allSettled([
    events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.create', { creator: '@u:x' }, '')); }),
    events.appendEvents(r1, (tx) => {
      expect(tx.state.get('m.room.create', '')).toBeDefined();
      tx.append(ev(r1, 'm.room.topic', { topic: 'first' }, ''));
    }),
    events.appendEvents(r1, (tx) => {
      tx.append(ev(r1, 'm.room.topic', { topic: 'doomed' }, ''));
      throw new Error('plan failed');
    }),
    events.appendEvents(r2, (tx) => { tx.append(ev(r2, 'm.room.create', { creator: '@u:x' }, '')); }),
    events.appendEvents(r1, (tx) => {
      expect(tx.state.get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
      tx.append(ev(r1, 'm.room.message', { body: 'hi' }));
    }, { txn: { token: 'tok', txnId: 't1' } }),
    events.appendEvents(r1, (tx) => { tx.append(ev(r1, 'm.room.message', { body: 'again' })); }, { txn: { token: 'tok', txnId: 't1' } }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  const ok = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  const positions = ok.flatMap((r) => (r && !r.deduplicated ? r.events.map((e) => e.stream_ordering) : []));
  expect(positions).toEqual([start + 1, start + 2, start + 3, start + 4]);
  expect(ok[5]!.deduplicated).toBe(true);
  expect(ok[5]!.events[0]!.event_id).toBe(ok[4]!.events[0]!.event_id);
  expect(await events.currentStreamOrdering()).toBe(start + 4);
  expect((await events.getCurrentState(r1)).get('m.room.topic', '')?.content).toEqual({ topic: 'first' });
  expect(ok[1]!.events[0]!.topological_ordering).toBe(2);
  expect(ok[4]!.events[0]!.topological_ordering).toBe(3);
  return { start, results, ok };
}
