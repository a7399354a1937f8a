import { LeanConnection } from '../lean-client.js';
import { makeUsers, pool, txnId, type User } from '../matrix.js';
import { judged, type Scenario } from '../scenario.js';
import { median } from '../stats.js';

/** What a fan-out needs to know of the server it runs against (Axon, or the bare node:http floor). */
interface FanOutTarget {
  readonly label: string;
  readonly connections: readonly LeanConnection[];
  /** The access token poll `i` sends, if any. */
  accessToken(i: number): string | undefined;
  /** The token poll `i` starts from. */
  firstToken(i: number): string | undefined;
  /** Whether an answer to a poll from `from` holds round `round`'s message (recognised without parsing it). */
  holdsMessage(text: string, round: number, from: string | undefined): boolean;
  /** How many polls the server holds now. */
  parked(): Promise<number>;
  /** Sends round `round`'s message; resolves when the PUT is answered. */
  send(round: number): Promise<void>;
  /** The server's CPU time so far (ms). */
  cpuMs(): Promise<number>;
}

interface FanOutRounds {
  readonly fanouts: number[];
  readonly puts: number[];
  readonly cpus: number[];
  readonly resets: number;
}

/**
 * Holds one poll on each connection, sends a message all of them watch, and times it until
 * the last poll has it: a warm-up round, then `measured` rounds. `afterFirstPark` runs once
 * every poll of the first round is held (the memory figure is read there).
 */
async function fanOut(t: FanOutTarget, measured: number, smoke: boolean, log: (m: string) => void,
  afterFirstPark: () => Promise<void> = async () => {}): Promise<FanOutRounds> {
  const polls = t.connections.length;
  // A kept-alive connection the server closes just as a poll reuses it is reset; clients
  // retry such a poll (it is idempotent), and so does this one.
  let resets = 0;
  /** The round whose message has been sent (-1: none yet). */
  let sentRound = -1;
  // The message's answer is recognised without parsing it (10,000 JSON.parse calls on the
  // client's one core would be counted as fan-out time): its text is kept and parsed for
  // `end` between rounds. Other answers (presence, as users come online) are parsed at once.
  const tokens = t.connections.map((_, i) => t.firstToken(i));
  const kept: string[] = new Array<string>(polls);
  const poll = async (i: number): Promise<{ at: number; text: string }> => {
    const token = tokens[i];
    const query = new URLSearchParams({ timeout: '120000', ...(token ? { from: token } : {}) });
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await t.connections[i]!.request('GET', `/_matrix/client/api/v1/events?${query}`, undefined, t.accessToken(i));
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
  /** Answers before the round's message was sent (presence, users coming online). */
  let early = 0;
  /** Polls on connection i, each from the last answer's `end`, until round's message arrives; when it did. */
  const pollUntil = async (i: number, round: number): Promise<number> => {
    for (;;) {
      const r = await poll(i);
      if (sentRound === round && t.holdsMessage(r.text, round, tokens[i])) {
        kept[i] = r.text;
        return r.at;
      }
      if (sentRound < round) early++;
      tokens[i] = (JSON.parse(r.text) as { end: string }).end;
    }
  };
  /** The first poll that failed, if any: reported at once rather than after the park deadline. */
  let failure: unknown;
  const park = async (): Promise<void> => {
    // Every poll held, as the server counts them (opening 10,000 takes a while on a busy
    // machine; a message sent before would measure the backlog, not the fan-out), then a
    // moment for stragglers holding again after a wake-up.
    const parkDeadline = performance.now() + (smoke ? 30_000 : 180_000);
    let parked = 0;
    while ((parked = await t.parked()) < polls) {
      if (failure !== undefined) throw failure;
      if (performance.now() > parkDeadline) throw new Error(`${t.label}: only ${parked} of ${polls} polls held after the deadline`);
      // not faster: each scrape makes Axon count its 10,000 open file descriptors
      await new Promise((r) => setTimeout(r, 1000));
    }
    log(`${t.label}: ${parked} polls held`);
    await new Promise((r) => setTimeout(r, smoke ? 200 : 2_000));
  };

  const warmups = 1;
  const fanouts: number[] = [];
  const puts: number[] = [];
  const cpus: number[] = [];
  for (let round = 0; round < warmups + measured; round++) {
    const waits = t.connections.map((_, i) => pollUntil(i, round));
    // a poll that fails fails the scenario (in park, or at Promise.all below), not the process now
    for (const w of waits) w.catch((err: unknown) => { failure ??= err; });
    await park();
    if (round === 0) {
      log(`${t.label}: ${early} answers before the first park`);
      await afterFirstPark();
    }
    const cpu0 = await t.cpuMs();
    sentRound = round;
    const t0 = performance.now();
    await t.send(round);
    const putMs = performance.now() - t0;
    const fanoutMs = Math.max(...(await Promise.all(waits))) - t0;
    // CPU rather than wall time compares builds on this noisy machine: after a moment for
    // the answers' finish work (access lines), which runs after the last write.
    await new Promise((r) => setTimeout(r, smoke ? 50 : 1_000));
    const cpuUs = ((await t.cpuMs()) - cpu0) * 1000 / polls;
    const label = round < warmups ? 'warm-up' : `round ${round - warmups + 1}/${measured}`;
    log(`${t.label} ${label}: fan-out to ${polls} polls ${fanoutMs.toFixed(0)} ms, PUT ${putMs.toFixed(1)} ms, server CPU ${cpuUs.toFixed(0)} us per poll`);
    if (round >= warmups) {
      fanouts.push(fanoutMs);
      puts.push(putMs);
      cpus.push(cpuUs);
    }
    for (let i = 0; i < polls; i++) tokens[i] = (JSON.parse(kept[i]!) as { end: string }).end;
  }
  for (const c of t.connections) c.close();
  return { fanouts, puts, cpus, resets };
}

/** 3. Many idle /events polls held at once: their memory, and one message fanned out to all. */
export const waitingPolls: Scenario = async ({ api, apis, smoke, ask, log, metric, ceilingUrl }) => {
  const polls = smoke ? 40 : 10_000;
  const userCount = smoke ? 4 : 100;
  const measured = smoke ? 1 : 3;
  const users = await makeUsers(api, userCount, 'poll');
  const owner = users[0]!;
  const roomId = await api.createRoom(owner);
  await pool(users.slice(1), 8, async (u) => { await api.join(u, roomId); });
  // Every user online before the first tokens are taken. A user comes online with their
  // first poll, and each such change is news for the 99 others: tokens taken one user at a
  // time answered the first round's polls with about 50 presence events each, a burst of
  // 10,000 answers before the park whose promoted garbage grew the old generation by about
  // 2.4 KiB a poll, read as the polls' memory (docs/benchmarks.md, eighteenth round). The
  // scenario is idle polls. On every process: a process's first poll for a user loads that
  // user's rooms and presence, and its first requests compile its code, none of which is
  // the poll's to hold (with three processes, the two that had served no request yet
  // counted it).
  for (const a of apis) for (const u of users) await a.events(u, undefined, 0);
  const from = new Map<User, string>();
  for (const u of users) from.set(u, (await api.events(u, undefined, 0)).end);

  // One connection per poll, as 10,000 separate clients would have; spread over the
  // processes. lean-client.ts: node:http's client spends ~0.1 ms of CPU on each answer,
  // which would put a second of the client's own work inside the fan-out figure.
  // Connected a few hundred at a time: 10,000 connects at once overflow the server's
  // accept queue, and connections stuck there time out (408) before their first request.
  const connectAll = async (urlOf: (i: number) => string): Promise<LeanConnection[]> => {
    const connections = Array.from({ length: polls }, (_, i) => LeanConnection.forUrl(urlOf(i)));
    await pool(connections, 200, (c) => c.connect());
    await new Promise((r) => setTimeout(r, 500));
    return connections;
  };

  const axonConnections = await connectAll((i) => apis[i % apis.length]!.baseUrl);
  const before = await ask('server-rss-kib');
  let after = 0;
  const axon = await fanOut({
    label: 'Axon',
    connections: axonConnections,
    accessToken: (i) => users[i % userCount]!.token,
    firstToken: (i) => from.get(users[i % userCount]!),
    holdsMessage: (text, round) => text.includes(`"body":"to everyone ${round}"`),
    parked: () => metric('axon_sync_waiting_long_polls'),
    send: async (round) => { await api.send(owner, roomId, `to everyone ${round}`); },
    cpuMs: () => ask('server-cpu-ms'),
  }, measured, smoke, log, async () => {
    after = await ask('server-rss-kib');
    log(`${polls} polls open: server RSS ${before} -> ${after} KiB`);
  });
  log(`Axon: ${axon.resets} polls retried after a reset connection`);

  // The same fan-out from the bare node:http server (ceiling-server.mjs holds a poll from
  // its current token until the next PUT, then answers all with one body): what this
  // machine's loopback, scheduler and node:http alone cost, with no work per poll.
  const ceilingConnections = await connectAll(() => ceilingUrl);
  // after the connections, as Axon's: the memory of the held polls
  const ceilingBefore = await ask('ceiling-rss-kib');
  let ceilingAfter = 0;
  const sender = LeanConnection.forUrl(ceilingUrl);
  const ceilingJson = async (method: string, path: string, body?: string): Promise<{ end?: string; parked?: number }> => {
    const r = await sender.request(method, path, body, undefined);
    if (r.status !== 200) throw new Error(`ceiling ${method} ${path}: ${r.status} ${r.text}`);
    return JSON.parse(r.text) as { end?: string; parked?: number };
  };
  const ceilingToken = (await ceilingJson('GET', '/_matrix/client/api/v1/events')).end;
  const floor = await fanOut({
    label: 'bare node:http',
    connections: ceilingConnections,
    accessToken: () => undefined,
    firstToken: () => ceilingToken,
    // every answer has the same body: the message's is the one whose `end` is the next token
    holdsMessage: (text, _round, from) => text.includes(`"end":"s${Number(from?.slice(1)) + 1}"`),
    parked: async () => (await ceilingJson('GET', '/_bench/parked')).parked ?? 0,
    send: async () => {
      await ceilingJson('PUT', `/_matrix/client/api/v1/rooms/r/send/m.room.message/${txnId()}`, JSON.stringify({ msgtype: 'm.text', body: 'x' }));
    },
    cpuMs: () => ask('ceiling-cpu-ms'),
  }, measured, smoke, log, async () => { ceilingAfter = await ask('ceiling-rss-kib'); });
  sender.close();

  const runs = `median of ${axon.fanouts.length} after a warm-up`;
  return [
    judged({ scenario: '3 waiting polls', metric: `server memory per waiting poll (${polls} polls)`, value: (after - before) / polls, unit: 'KiB', target: '<= 6', synapse: '21' }),
    judged({ scenario: '3 waiting polls', metric: `one message delivered to all ${polls} polls (${runs})`, value: median(axon.fanouts), unit: 'ms', target: '<= 1000', synapse: '21000' }),
    { scenario: '3 waiting polls', metric: `slowest fan-out of the ${axon.fanouts.length}`, value: Math.max(...axon.fanouts), unit: 'ms' },
    judged({ scenario: '3 waiting polls', metric: "the send's own PUT during the fan-out", value: median(axon.puts), unit: 'ms', target: '<= 50' }),
    { scenario: '3 waiting polls', metric: 'server CPU for the send and its fan-out, per poll', value: median(axon.cpus), unit: 'us' },
    { scenario: '3 waiting polls', metric: `bare node:http floor, same fan-out (${runs})`, value: median(floor.fanouts), unit: 'ms' },
    { scenario: '3 waiting polls', metric: 'bare node:http floor: CPU per poll', value: median(floor.cpus), unit: 'us' },
    { scenario: '3 waiting polls', metric: 'bare node:http floor: memory per held poll', value: (ceilingAfter - ceilingBefore) / polls, unit: 'KiB' },
  ];
};
