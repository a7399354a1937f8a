import { LeanConnection } from '../lean-client.js';
import { makeUsers, seedRooms } from '../matrix.js';
import { judged, type Row, type Scenario } from '../scenario.js';
import { median, summarize } from '../stats.js';

interface Shape { rooms: number; messages: number; limit: number; target?: string; synapse?: string }

const FULL: Shape[] = [
  { rooms: 20, messages: 50, limit: 10, target: '<= 5', synapse: '35' },
  { rooms: 200, messages: 200, limit: 20, target: '<= 50', synapse: '1200' },
  { rooms: 1000, messages: 10, limit: 10, target: '<= 250', synapse: '4500-5400' },
];
const CURVE = [10, 100, 1000];
const CURVE_REPS = 20;
const WARM_UP_MS = 500;
const SMOKE: Shape[] = [{ rooms: 3, messages: 5, limit: 2, target: '<= 5' }];

/** 2. initialSync for one user, at several sizes, and its growth with the number of rooms. */
export const initialSync: Scenario = async ({ api, smoke, log }) => {
  const rows: Row[] = [];
  // Timed to the answer's last byte, as wrk or autocannon time requests: the client's
  // joining, decoding and parsing of a body of megabytes is not the server's time, so timed
  // requests count the body's bytes and drop them (the warm-up decodes, parses and checks
  // the answers). lean-client.ts, for node:http's client's own CPU time likewise.
  const connection = LeanConnection.forUrl(api.baseUrl);
  type User = Parameters<typeof api.initialSync>[0];
  const path = (limit: number): string => `/_matrix/client/api/v1/initialSync?limit=${limit}`;
  const once = async (user: User, limit: number): Promise<number> => {
    const t0 = performance.now();
    const r = await connection.request('GET', path(limit), undefined, user.token, { discardBody: true });
    const ms = performance.now() - t0;
    if (r.status !== 200 || r.bytes === 0) throw new Error(`initialSync: ${r.status}, ${r.bytes} bytes`);
    return ms;
  };
  // Until the JIT has settled: at least 3 requests and WARM_UP_MS (at most 200 requests).
  // The first shape runs right after the server started, and 3 requests left its median
  // at 2 to 3 times the warm figure in some runs.
  const warmUp = async (user: User, limit: number, rooms: number): Promise<void> => {
    const until = performance.now() + (smoke ? 0 : WARM_UP_MS);
    for (let i = 0; i < 200 && (i < 3 || performance.now() < until); i++) {
      const r = await connection.request('GET', path(limit), undefined, user.token, { discardBody: i >= 3 });
      if (i < 3) {
        const body = JSON.parse(r.text) as { rooms?: unknown[] };
        if (r.status !== 200 || body.rooms?.length !== rooms) throw new Error(`initialSync: ${r.status}, ${body.rooms?.length} rooms, ${rooms} expected`);
      }
    }
  };
  for (const shape of smoke ? SMOKE : FULL) {
    const [user] = await makeUsers(api, 1, 'isync');
    await seedRooms(api, user!, shape.rooms, shape.messages);
    await warmUp(user!, shape.limit, shape.rooms);
    const times: number[] = [];
    for (let i = 0; i < (smoke ? 3 : 20); i++) times.push(await once(user!, shape.limit));
    const s = summarize(times);
    log(`initialSync ${shape.rooms}x${shape.messages}: median ${s.median.toFixed(1)} ms`);
    rows.push(judged({ scenario: '2 initialSync', metric: `${shape.rooms} rooms x ${shape.messages} msgs, limit ${shape.limit}: median`,
      value: s.median, unit: 'ms', ...(shape.target ? { target: shape.target } : {}), ...(shape.synapse ? { synapse: shape.synapse } : {}) }));
  }
  // Each size is seeded and timed before the next is seeded, as the shapes above are: a
  // larger size's requests leave garbage and cold caches that slow the requests after
  // them for a while (timing the sizes in turn made a 10-room request twice as slow),
  // which would flatter the curve.
  const rooms = smoke ? [1, 2, 4] : CURVE;
  const curve: number[] = [];
  for (const n of rooms) {
    const [user] = await makeUsers(api, 1, 'curve');
    await seedRooms(api, user!, n, smoke ? 2 : 50);
    await warmUp(user!, 10, n);
    const times: number[] = [];
    for (let i = 0; i < (smoke ? 3 : CURVE_REPS); i++) times.push(await once(user!, 10));
    curve.push(median(times));
    rows.push({ scenario: '2 initialSync curve', metric: `${n} rooms x ${smoke ? 2 : 50} msgs, limit 10: median`, value: curve.at(-1)!, unit: 'ms',
      ...(n === 10 ? { synapse: '17-20' } : n === 100 ? { synapse: '144-169' } : {}) });
  }
  connection.close();
  // per-room cost at the largest size against the smallest: linear growth keeps it <= 1x
  const perRoomFirst = curve[0]! / rooms[0]!;
  const perRoomLast = curve.at(-1)! / rooms.at(-1)!;
  rows.push(judged({ scenario: '2 initialSync curve', metric: 'per-room cost, largest / smallest', value: perRoomLast / perRoomFirst, unit: 'x', target: '<= 1' }));
  return rows;
};
