import { LeanConnection } from '../lean-client.js';
import { makeUsers, pool, type User } from '../matrix.js';
import { judged, type Scenario } from '../scenario.js';
import { median } from '../stats.js';

/** 3. Many idle /events polls held at once: their memory, and one message fanned out to all. */
export const waitingPolls: Scenario = async ({ api, apis, smoke, ask, log, metric }) => {
  const polls = smoke ? 40 : 10_000;
  const userCount = smoke ? 4 : 100;
  const users = await makeUsers(api, userCount, 'poll');
  const owner = users[0]!;
  const roomId = await api.createRoom(owner);
  await pool(users.slice(1), 8, async (u) => { await api.join(u, roomId); });
  const from = new Map<User, string>();
  for (const u of users) from.set(u, (await api.events(u, undefined, 0)).end);

  // One connection per poll, as 10,000 separate clients would have; spread over the
  // processes. lean-client.ts: node:http's client spends ~0.1 ms of CPU on each answer,
  // which would put a second of the client's own work inside the fan-out figure.
  const connections = Array.from({ length: polls }, (_, i) => LeanConnection.forUrl(apis[i % apis.length]!.baseUrl));
  // Connected a few hundred at a time: 10,000 connects at once overflow the server's
  // accept queue, and connections stuck there time out (408) before their first request.
  await pool(connections, 200, (c) => c.connect());
  await new Promise((r) => setTimeout(r, 500));
  const before = await ask('server-rss-kib');
  // A kept-alive connection the server closes just as a poll reuses it is reset; clients
  // retry such a poll (it is idempotent), and so does this one.
  let resets = 0;
  /** The round whose message has been sent (-1: none yet). */
  let sentRound = -1;
  const marker = (round: number): string => `"body":"to everyone ${round}"`;
  // The message's answer is recognised without parsing it (10,000 JSON.parse calls on the
  // client's one core would be counted as fan-out time): its text is kept and parsed for
  // `end` between rounds. Other answers (presence, as users come online) are parsed at once.
  const tokens: (string | undefined)[] = connections.map((_, i) => from.get(users[i % userCount]!));
  const kept: string[] = new Array<string>(polls);
  const poll = async (connection: LeanConnection, u: User, token: string | undefined): Promise<{ at: number; text: string }> => {
    const query = new URLSearchParams({ timeout: '120000', ...(token ? { from: token } : {}) });
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await connection.request('GET', `/_matrix/client/api/v1/events?${query}`, undefined, u.token);
        const at = performance.now();
        if (r.status !== 200) throw new Error(`events: ${r.status} ${r.text}`);
        return { at, text: r.text };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const reset = (err as Error).message === 'connection closed' || code === 'ECONNRESET' || code === 'EPIPE';
        if (attempt >= 5 || !reset) throw err;
        resets++;
      }
    }
  };
  /** Polls on connection i, each from the last answer's `end`, until round's message arrives; when it did. */
  const pollUntil = async (i: number, round: number): Promise<number> => {
    const u = users[i % userCount]!;
    for (;;) {
      const r = await poll(connections[i]!, u, tokens[i]);
      if (sentRound === round && r.text.includes(marker(round))) {
        kept[i] = r.text;
        return r.at;
      }
      tokens[i] = (JSON.parse(r.text) as { end: string }).end;
    }
  };
  const park = async (): Promise<void> => {
    // Every poll parked, as the server counts them (opening 10,000 takes a while on a busy
    // machine; a message sent before would measure the backlog, not the fan-out), then a
    // moment for stragglers re-parking after a wake-up.
    const parkDeadline = performance.now() + (smoke ? 30_000 : 180_000);
    let parked = 0;
    while ((parked = await metric('axon_sync_waiting_long_polls')) < polls && performance.now() < parkDeadline) {
      // not faster: each scrape makes the server count its 10,000 open file descriptors
      await new Promise((r) => setTimeout(r, 1000));
    }
    log(`${parked} polls parked`);
    await new Promise((r) => setTimeout(r, smoke ? 200 : 2_000));
  };

  // A warm-up round, then measured ones: the median of those is the figure.
  const warmups = 1;
  const rounds = warmups + (smoke ? 1 : 3);
  let after = 0;
  const fanouts: number[] = [];
  const puts: number[] = [];
  const cpus: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const waits = connections.map((_, i) => pollUntil(i, round));
    // a poll that fails fails the scenario at Promise.all below, not the process now
    for (const w of waits) w.catch(() => {});
    await park();
    if (round === 0) {
      after = await ask('server-rss-kib');
      log(`${polls} polls open: server RSS ${before} -> ${after} KiB`);
    }
    const cpu0 = await ask('server-cpu-ms');
    sentRound = round;
    const t0 = performance.now();
    const eventId = await api.send(owner, roomId, `to everyone ${round}`);
    const putMs = performance.now() - t0;
    const fanoutMs = Math.max(...(await Promise.all(waits))) - t0;
    // CPU rather than wall time compares builds on this noisy machine: after a moment for
    // the answers' finish work (access lines), which runs after the last write.
    await new Promise((r) => setTimeout(r, smoke ? 50 : 1_000));
    const cpuUs = ((await ask('server-cpu-ms')) - cpu0) * 1000 / polls;
    const label = round < warmups ? 'warm-up' : `round ${round - warmups + 1}/${rounds - warmups}`;
    log(`${label}: fan-out of ${eventId} to ${polls} polls: ${fanoutMs.toFixed(0)} ms, PUT ${putMs.toFixed(1)} ms, server CPU ${cpuUs.toFixed(0)} us per poll`);
    if (round >= warmups) {
      fanouts.push(fanoutMs);
      puts.push(putMs);
      cpus.push(cpuUs);
    }
    for (let i = 0; i < polls; i++) tokens[i] = (JSON.parse(kept[i]!) as { end: string }).end;
  }
  for (const c of connections) c.close();
  log(`${resets} polls retried after a reset connection`);
  const runs = `median of ${fanouts.length} after a warm-up`;
  return [
    judged({ scenario: '3 waiting polls', metric: `server memory per waiting poll (${polls} polls)`, value: ((after - before) * 1024) / polls / 1024, unit: 'KiB', target: '<= 6', synapse: '21' }),
    judged({ scenario: '3 waiting polls', metric: `one message delivered to all ${polls} polls (${runs})`, value: median(fanouts), unit: 'ms', target: '<= 1000', synapse: '21000' }),
    { scenario: '3 waiting polls', metric: `slowest fan-out of the ${fanouts.length}`, value: Math.max(...fanouts), unit: 'ms' },
    judged({ scenario: '3 waiting polls', metric: "the send's own PUT during the fan-out", value: median(puts), unit: 'ms', target: '<= 50' }),
    { scenario: '3 waiting polls', metric: 'server CPU for the send and its fan-out, per poll', value: median(cpus), unit: 'us' },
  ];
};
