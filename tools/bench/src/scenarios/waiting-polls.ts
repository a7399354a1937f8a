import { LeanConnection } from '../lean-client.js';
import { makeUsers, pool, type User } from '../matrix.js';
import { judged, type Scenario } from '../scenario.js';

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
  const done: number[] = [];
  let t0 = 0;
  let sent = false;
  // Each poll loops like a client: a wake-up with something else (presence, as users come
  // online) parks again from the new `end`, until the message arrives.
  const waits: Promise<void>[] = [];
  // A kept-alive connection the server closes just as a poll reuses it is reset; clients
  // retry such a poll (it is idempotent), and so does this one.
  let resets = 0;
  // The message's answer is recognised without parsing it (10,000 JSON.parse calls on the
  // client's one core would be counted as fan-out time); other answers are parsed for `end`.
  type Answer = { at: number; message: boolean; end: string };
  const poll = async (connection: LeanConnection, u: User, token: string | undefined): Promise<Answer> => {
    const query = new URLSearchParams({ timeout: '120000', ...(token ? { from: token } : {}) });
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await connection.request('GET', `/_matrix/client/api/v1/events?${query}`, undefined, u.token);
        const at = performance.now();
        if (r.status !== 200) throw new Error(`events: ${r.status} ${r.text}`);
        if (sent && r.text.includes('"type":"m.room.message"')) return { at, message: true, end: '' };
        const body = JSON.parse(r.text) as { end: string; chunk: { type: string }[] };
        return { at, message: body.chunk.some((e) => e.type === 'm.room.message'), end: body.end };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const reset = (err as Error).message === 'connection closed' || code === 'ECONNRESET' || code === 'EPIPE';
        if (attempt >= 5 || !reset) throw err;
        resets++;
      }
    }
  };
  for (let i = 0; i < polls; i++) {
    const u = users[i % userCount]!;
    const wait = (async () => {
      let token = from.get(u);
      for (;;) {
        const r = await poll(connections[i]!, u, token);
        token = r.end;
        if (sent && r.message) {
          done[i] = r.at - t0;
          return;
        }
      }
    })();
    // a poll that fails fails the scenario at Promise.all below, not the process now
    wait.catch(() => {});
    waits.push(wait);
  }
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
  const after = await ask('server-rss-kib');
  log(`${polls} polls open: server RSS ${before} -> ${after} KiB`);
  sent = true;
  t0 = performance.now();
  const eventId = await api.send(owner, roomId, 'to everyone');
  const putMs = performance.now() - t0;
  await Promise.all(waits);
  for (const c of connections) c.close();
  const fanoutMs = Math.max(...done);
  log(`fan-out of ${eventId} to ${polls} polls: ${fanoutMs.toFixed(0)} ms; ${resets} polls retried after a reset connection`);
  return [
    judged({ scenario: '3 waiting polls', metric: `server memory per waiting poll (${polls} polls)`, value: ((after - before) * 1024) / polls / 1024, unit: 'KiB', target: '<= 6', synapse: '21' }),
    judged({ scenario: '3 waiting polls', metric: `one message delivered to all ${polls} polls`, value: fanoutMs, unit: 'ms', target: '<= 1000', synapse: '21000' }),
    judged({ scenario: '3 waiting polls', metric: "the send's own PUT during the fan-out", value: putMs, unit: 'ms', target: '<= 50' }),
  ];
};
