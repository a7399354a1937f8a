import { describe, expect, it } from 'vitest';
import { mergeable, mergeEvents, type EventsMessage } from './events-notices.js';

const run = (from: number, pos: number, evs?: [number, string][]): EventsMessage => ({ t: 'events', pos, from, ...(evs ? { evs } : {}) });

describe('events notices merged for one line or notice', () => {
  it('merges runs that meet or overlap, from the earliest start', () => {
    expect(mergeable(run(100, 101), run(101, 103))).toBe(true);
    expect(mergeEvents(run(100, 101, [[101, '!a']]), run(101, 103, [[103, '!a']])))
      .toEqual({ t: 'events', pos: 103, from: 100, evs: [[101, '!a'], [103, '!a']] });
  });

  it('keeps runs with another writer\'s positions between them apart', () => {
    expect(mergeable(run(100, 101), run(102, 103))).toBe(false);
    expect(mergeable(run(102, 103), run(100, 101))).toBe(false);
  });

  it('a notice without `from` announces everything up to its pos, and so does what it is merged into', () => {
    const bare: EventsMessage = { t: 'events', pos: 90 };
    expect(mergeable(run(100, 101), bare)).toBe(true);
    expect(mergeEvents(run(100, 101), bare)).toEqual({ t: 'events', pos: 101 });
    expect(mergeEvents(run(100, 101))).toEqual({ t: 'events', pos: 101, from: 100 });
  });
});
