import { afterAll, beforeAll, expect, it } from 'vitest';
import { register, startServer, type TestServer } from '../helpers/index.js';
import { createRoom, initialSync, send } from './util.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer(); });
afterAll(async () => { await srv.close(); });

it('initialSync of 20 rooms x 50 messages, limit 10: timing (in process)', async () => {
  const alice = await register(srv.baseUrl);
  for (let r = 0; r < 20; r++) {
    const roomId = await createRoom(srv.baseUrl, alice, { preset: 'private_chat', name: `room ${r}` });
    for (let i = 0; i < 50; i++) await send(srv.baseUrl, alice, roomId, `message ${i}`);
  }
  const res = await initialSync(srv.baseUrl, alice);
  expect(res.body.rooms).toHaveLength(20);
  for (const room of res.body.rooms) expect(room.messages.chunk).toHaveLength(10);
  const sync = srv.hs.context.sync;
  const who = { userId: alice.userId, tokenHash: 'x' };
  for (let i = 0; i < 20; i++) await sync.initialSync(who, {});
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await sync.initialSync(who, {});
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`initialSync 20x50 limit 10: median ${times[25]!.toFixed(2)} ms, p90 ${times[45]!.toFixed(2)} ms`);
  expect(times[25]).toBeLessThan(50);
}, 120_000);
