/**
 * initialSync is written into a reused buffer as it is built (http/json-reply.ts), in
 * production mode only: test mode parses the text for response validation first. Checked
 * here against a production-mode server, with an answer larger than a buffer's first size
 * and characters of every UTF-8 length, several times over (the buffers are reused), with
 * a refused request between two answers (a JSON error, and the next answer whole). Buffer
 * reuse itself (answers in flight together, cut connections) is tested in json-reply.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, V1, type Account, type TestServer } from '../helpers/index.js';
import { createRoom, send } from './util.js';

let srv: TestServer;
beforeAll(async () => { srv = await startServer({ config: { testing: { validate_responses: false } } }); });
afterAll(async () => { await srv.close(); });

type Room = { room_id: string; messages: { chunk: Array<{ content: { body?: string } }> } };

describe('initialSync in production mode', () => {
  it('answers whole and intact across the buffer growing and being reused', async () => {
    const alice: Account = await register(srv.baseUrl);
    const sent = new Map<string, string[]>();
    for (let r = 0; r < 12; r++) {
      const roomId = await createRoom(srv.baseUrl, alice);
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) {
        const body = `room ${r} message ${i}: caf\u00e9 \u2603 \u{1F600} ${'\u00fc\u4e2d'.repeat(700 + r * 10 + i)}`;
        await send(srv.baseUrl, alice, roomId, body);
        bodies.push(body);
      }
      sent.set(roomId, bodies);
    }
    for (let round = 0; round < 3; round++) {
      const res = await fetch(`${srv.baseUrl}${V1}/initialSync?limit=10`, { headers: { Authorization: `Bearer ${alice.accessToken}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.length).toBe(Number(res.headers.get('content-length')));
      expect(bytes.length).toBeGreaterThan(128 * 1024);
      const body = JSON.parse(bytes.toString('utf8')) as { rooms: Room[]; end: string };
      expect(body.rooms.map((r) => r.room_id).sort()).toEqual([...sent.keys()].sort());
      for (const room of body.rooms) {
        const texts = room.messages.chunk.map((e) => e.content.body).filter((b) => b?.startsWith('room '));
        expect(texts, room.room_id).toEqual(sent.get(room.room_id));
      }
      if (round === 1) {
        const refused = await request(srv.baseUrl, 'GET', `${V1}/initialSync?limit=-1`, { token: alice.accessToken });
        expect(refused.status).toBe(400);
        expect(refused.body.errcode).toBeTypeOf('string');
      }
    }
  });
});
