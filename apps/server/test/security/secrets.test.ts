/**
 * Passwords, tokens and the shared secret. Comparisons in constant time (reviewed in
 * docs/security.md; what can be observed is tested here): tokens are looked up by their
 * SHA-256, never compared as strings, and never stored; a login for an unknown user costs
 * a full password hash; MACs compare with timingSafeEqual; a nonce is used once.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macMatches, registrationMac } from '../../src/domain/accounts/shared-secret.js';
import { login, register, request, SHARED_SECRET, type TestServer } from '../helpers/index.js';
import { snapshotDb, startSecurityServer } from './util.js';

let srv: TestServer;
beforeAll(async () => { srv = await startSecurityServer(); });
afterAll(async () => { await srv.close(); });

const ADMIN = '/_synapse/admin/v1/register';
const mac = (nonce: string, user: string, pw: string) => createHmac('sha1', SHARED_SECRET).update(`${nonce}\0${user}\0${pw}\0notadmin`).digest('hex');
const nonce = async () => (await request<{ nonce: string }>(srv.baseUrl, 'GET', ADMIN)).body.nonce;

describe('shared-secret registration', () => {
  it('refuses a nonce reused after a successful registration', async () => {
    const n = await nonce();
    const first = await request(srv.baseUrl, 'POST', ADMIN, { body: { nonce: n, username: 'secret1', password: 'pw', mac: mac(n, 'secret1', 'pw') } });
    expect(first.status).toBe(200);
    const replay = await request(srv.baseUrl, 'POST', ADMIN, { body: { nonce: n, username: 'secret2', password: 'pw', mac: mac(n, 'secret2', 'pw') } });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toMatch(/nonce/);
  });

  it('burns a nonce on a wrong MAC, so it cannot be retried with guesses', async () => {
    const n = await nonce();
    const wrong = await request(srv.baseUrl, 'POST', ADMIN, { body: { nonce: n, username: 'secret3', password: 'pw', mac: '0'.repeat(40) } });
    expect(wrong.status).toBe(403);
    const right = await request(srv.baseUrl, 'POST', ADMIN, { body: { nonce: n, username: 'secret3', password: 'pw', mac: mac(n, 'secret3', 'pw') } });
    expect(right.status).toBe(400);
  });

  it('refuses nonces it never issued', async () => {
    const res = await request(srv.baseUrl, 'POST', ADMIN, { body: { nonce: 'made-up', username: 'secret4', password: 'pw', mac: mac('made-up', 'secret4', 'pw') } });
    expect(res.status).toBe(400);
  });

  it('compares MACs of any length without throwing (timingSafeEqual needs equal lengths)', () => {
    const good = registrationMac('s', 'n', 'u', 'p', false);
    expect(macMatches(good, good)).toBe(true);
    expect(macMatches(good, good.toUpperCase())).toBe(true);
    expect(macMatches(good, good.slice(1))).toBe(false);
    expect(macMatches(good, '')).toBe(false);
    expect(macMatches(good, `${good}00`)).toBe(false);
    expect(macMatches(good, 'é'.repeat(20))).toBe(false);
  });
});

describe('tokens and passwords', () => {
  it('never stores an access token or a password in the clear', async () => {
    const a = await register(srv.baseUrl, 'plaintextcheck', 'a very particular password');
    const dump = JSON.stringify(await snapshotDb(srv));
    expect(dump).not.toContain(a.accessToken);
    expect(dump).not.toContain('a very particular password');
  });

  it('answers a token differing in its last character like any unknown token', async () => {
    const a = await register(srv.baseUrl);
    const last = a.accessToken.slice(-1);
    const near = a.accessToken.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    const res = await request(srv.baseUrl, 'GET', '/_matrix/client/api/v1/initialSync', { token: near });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('spends a full password hash on unknown users, so timing does not tell which users exist', async () => {
    await register(srv.baseUrl, 'timingvictim', 'pw');
    const time = async (user: string): Promise<number> => {
      const t0 = performance.now();
      const res = await login(srv.baseUrl, user, 'wrong');
      expect(res.status).toBe(403);
      return performance.now() - t0;
    };
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time('timingvictim'));
      unknown.push(await time(`nobody${i}`));
    }
    // scrypt dominates both (tens of ms); a shortcut for unknown users would be ~1 ms.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.4);
  });
});
