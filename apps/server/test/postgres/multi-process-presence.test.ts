/**
 * Presence with three `axon start` processes on one database and no sticky routing: a
 * user's polls that move between processes keep them online, and every process answers
 * with the presence the others wrote. Runs in the PostgreSQL project only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, REPLICATION_SECRET, request, startAxon, V1, writePostgresConfig, type Account } from '../helpers/index.js';
import { startDeployment, type Deployment } from '../helpers/deployment.js';
import { until } from '../helpers/until.js';
import { createRoom, enc, events, follow, membership } from '../sync/util.js';

/** Short, so that a user goes offline within a test (the sweeps run every eighth of it). */
const OFFLINE_AFTER_MS = 2_000;

/** Process i's config: with a replication listener, where the others read its notices, unless `streams` is false. */
const config = (dir: string, dbUrl: string, i: number, streams = true): string => writePostgresConfig(dir, dbUrl, 5, {
  name: `homeserver-${i}.yaml`,
  listeners: streams ? [{ port: 0, bind_addresses: ['127.0.0.1'], type: 'replication' }] : [],
  extra: { worker_replication_secret: REPLICATION_SECRET, presence: { idle_after: '5m', offline_after: `${OFFLINE_AFTER_MS}ms` } },
});

/**
 * The presence states `who` is told of `of` through `base` while `during` runs (and up to a
 * second after: the poll under way then).
 */
async function watchPresence(base: string, who: Account, of: Account, during: () => Promise<void>, ms: number): Promise<string[]> {
  const from = (await events(base, who, { timeout: 0 })).body.end;
  let over = false;
  const watching = follow(base, who, from, () => over, ms);
  await during();
  over = true;
  return (await watching).all
    .filter((e) => e['type'] === 'm.presence' && (e['content'] as { user_id: string }).user_id === of.userId)
    .map((e) => (e['content'] as { presence: string }).presence);
}

describe('three processes, one database: presence', () => {
  let deployment: Deployment | undefined;
  const url = (i: number): string => deployment!.procs[i]!.url;
  let alice: Account;
  let bob: Account;

  beforeAll(async () => {
    deployment = await startDeployment('presence', (dir, dbUrl) => [0, 1, 2].map((i) => config(dir, dbUrl, i)));
    alice = await register(url(0));
    bob = await register(url(1));
    const roomId = await createRoom(url(2), alice, { preset: 'public_chat' });
    expect(await membership(url(0), bob, roomId, 'join')).toBe(200);
  }, 60_000);

  afterAll(() => deployment?.stop(), 30_000);

  /** The position of the user's latest presence write (each write takes a new one). */
  const presenceWrites = async (of: Account): Promise<number> => {
    const client = new pg.Client({ connectionString: deployment!.db.url });
    await client.connect();
    try {
      return Number((await client.query<{ stream_id: string }>('SELECT stream_id FROM presence WHERE user_id = $1', [of.userId])).rows[0]!.stream_id);
    } finally {
      await client.end();
    }
  };

  const presenceOf = async (base: string, who: Account, of: Account): Promise<Record<string, unknown>> => {
    const res = await request<Record<string, unknown>>(base, 'GET', `${V1}/presence/${enc(of.userId)}/status`, { token: who.accessToken });
    expect(res.status).toBe(200);
    return res.body;
  };

  it('a user whose polls move to another process stays online: the process they left does not mark them offline', async () => {
    // alice comes online through process 0, then polls through process 1 only
    expect((await events(url(0), alice, { timeout: 0 })).status).toBe(200);
    let from = (await events(url(1), alice, { timeout: 0 })).body.end;
    // eight times offline_after, and three sweeps of an earlier version's 5 s, while bob
    // watches through process 2 (the store keeps a user's latest presence only, so a change
    // undone before bob's next poll would not show later)
    const window = 3 * 5_000 + 1_000;
    const seen = await watchPresence(url(2), bob, alice, async () => {
      const stopAt = Date.now() + window;
      while (Date.now() < stopAt) from = (await follow(url(1), alice, from, () => false, 1_000)).end;
    }, window + 5_000);
    expect(seen).not.toContain('offline');
    expect(await presenceOf(url(0), bob, alice)).toMatchObject({ presence: 'online' });
    // and once she stops polling, she does go offline
    await until(() => presenceOf(url(2), bob, alice), (p) => p['presence'] === 'offline', 'alice offline', 2 * OFFLINE_AFTER_MS + 3_000);
  }, 40_000);

  it('every process answers with the presence another one wrote since, not what it held', async () => {
    // bob's polls are held by process 0, which has his record in memory
    expect((await events(url(0), bob, { timeout: 0 })).status).toBe(200);
    expect(await presenceOf(url(0), alice, bob)).toMatchObject({ presence: 'online' });
    const set = await request(url(1), 'PUT', `${V1}/presence/${enc(bob.userId)}/status`,
      { token: bob.accessToken, body: { presence: 'unavailable', status_msg: 'in a meeting' } });
    expect(set.status).toBe(200);
    await until(() => presenceOf(url(0), alice, bob), (p) => p['presence'] === 'unavailable', 'bob unavailable on process 0', 2_000);
    expect(await presenceOf(url(0), alice, bob)).toMatchObject({ presence: 'unavailable', status_msg: 'in a meeting' });
    expect(await presenceOf(url(2), alice, bob)).toMatchObject({ presence: 'unavailable', status_msg: 'in a meeting' });
  }, 20_000);
  it('a process that starts hears which users the others hold: it does not mark one polling elsewhere offline', async () => {
    // alice polls through process 0, which holds her
    let from = (await events(url(0), alice, { timeout: 0 })).body.end;
    const written = await presenceWrites(alice);
    const seen = await watchPresence(url(1), bob, alice, async () => {
      // without a stream of its own: the others, not reading one, have no reconnection that
      // would make them say what they hold; only its question does
      const fourth = await startAxon(config(deployment!.dir, deployment!.db.url, 3, false));
      deployment!.procs.push(fourth);
      // three times offline_after after the new process loaded alice as online
      const stopAt = Date.now() + 3 * OFFLINE_AFTER_MS;
      while (Date.now() < stopAt) from = (await follow(url(0), alice, from, () => false, 500)).end;
    }, 3 * OFFLINE_AFTER_MS + 8_000);
    expect(seen).not.toContain('offline');
    // nor written back online after such a mark: nothing was written of her
    expect(await presenceWrites(alice)).toBe(written);
  }, 40_000);

  it('a process that stops leaves the users it held to the others, who mark them offline in time', async () => {
    // bob polls through process 2 once (it claims him), then not at all
    await new Promise((r) => setTimeout(r, OFFLINE_AFTER_MS / 4 + 100));
    expect((await events(url(2), bob, { timeout: 0 })).status).toBe(200);
    const [stopped] = deployment!.procs.splice(2, 1);
    await stopped!.stop();
    await until(() => presenceOf(url(0), alice, bob), (p) => p['presence'] === 'offline', 'bob offline', 2 * OFFLINE_AFTER_MS + 3_000);
  }, 20_000);
});
