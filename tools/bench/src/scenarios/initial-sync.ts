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
const SMOKE: Shape[] = [{ rooms: 3, messages: 5, limit: 2, target: '<= 5' }];

/** 2. initialSync for one user, at several sizes, and its growth with the number of rooms. */
export const initialSync: Scenario = async ({ api, smoke, log }) => {
  const rows: Row[] = [];
  // Timed to the answer's last byte, as wrk or autocannon time requests: the client's
  // JSON.parse of a body of megabytes is not the server's time (the warm-up parses and
  // checks the answers). lean-client.ts, for node:http's client's own CPU time likewise.
  const connection = LeanConnection.forUrl(api.baseUrl);
  const time = async (user: Parameters<typeof api.initialSync>[0], limit: number, reps: number, rooms: number): Promise<number[]> => {
    const path = `/_matrix/client/api/v1/initialSync?limit=${limit}`;
    for (let i = 0; i < 3; i++) {
      const r = await connection.request('GET', path, undefined, user.token);
      const body = JSON.parse(r.text) as { rooms?: unknown[] };
      if (r.status !== 200 || body.rooms?.length !== rooms) throw new Error(`initialSync: ${r.status}, ${body.rooms?.length} rooms, ${rooms} expected`);
    }
    const out: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const r = await connection.request('GET', path, undefined, user.token);
      out.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`initialSync: ${r.status}`);
    }
    return out;
  };
  for (const shape of smoke ? SMOKE : FULL) {
    const [user] = await makeUsers(api, 1, 'isync');
    await seedRooms(api, user!, shape.rooms, shape.messages);
    const s = summarize(await time(user!, shape.limit, smoke ? 3 : 20, shape.rooms));
    log(`initialSync ${shape.rooms}x${shape.messages}: median ${s.median.toFixed(1)} ms`);
    rows.push(judged({ scenario: '2 initialSync', metric: `${shape.rooms} rooms x ${shape.messages} msgs, limit ${shape.limit}: median`,
      value: s.median, unit: 'ms', ...(shape.target ? { target: shape.target } : {}), ...(shape.synapse ? { synapse: shape.synapse } : {}) }));
  }
  const curve: number[] = [];
  for (const rooms of smoke ? [1, 2, 4] : CURVE) {
    const [user] = await makeUsers(api, 1, 'curve');
    await seedRooms(api, user!, rooms, smoke ? 2 : 50);
    const m = median(await time(user!, 10, smoke ? 3 : 10, rooms));
    curve.push(m);
    rows.push({ scenario: '2 initialSync curve', metric: `${rooms} rooms x ${smoke ? 2 : 50} msgs, limit 10: median`, value: m, unit: 'ms',
      ...(rooms === 10 ? { synapse: '17-20' } : rooms === 100 ? { synapse: '144-169' } : {}) });
  }
  connection.close();
  // per-room cost at the largest size against the smallest: linear growth keeps it <= 1x
  const rooms = smoke ? [1, 2, 4] : CURVE;
  const perRoomFirst = curve[0]! / rooms[0]!;
  const perRoomLast = curve.at(-1)! / rooms.at(-1)!;
  rows.push(judged({ scenario: '2 initialSync curve', metric: 'per-room cost, largest / smallest', value: perRoomLast / perRoomFirst, unit: 'x', target: '<= 1' }));
  return rows;
};
