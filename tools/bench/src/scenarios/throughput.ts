import { LeanConnection } from '../lean-client.js';
import { makeUsers, txnId } from '../matrix.js';
import { judged, type Scenario } from '../scenario.js';
import { median } from '../stats.js';

const SENDERS = 20;

async function runFor(ms: number, workers: number, once: (w: number) => Promise<void>): Promise<number> {
  let count = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (performance.now() < end) {
      await once(w);
      count++;
    }
  }));
  return count / (ms / 1000);
}

/** What one timed round of sends measured (CPU per message: NaN where there is no reading). */
interface SendRound {
  seconds: number;
  rate: number;
  serverCpuUs: number;
  databaseCpuUs: number;
  clientCpuUs: number;
  /** WAL flushes in the round, and the milliseconds they took (PostgreSQL; NaN otherwise). */
  flushes: number;
  flushMs: number;
}

/** Whether a round has WAL flush figures, and its milliseconds per flush (NaN without timing). */
function flushFigures(r: SendRound): { flushed: boolean; msPerFlush: number } {
  const flushed = Number.isFinite(r.flushes) && r.flushes > 0;
  return { flushed, msPerFlush: flushed ? r.flushMs / r.flushes : NaN };
}

/** The timed rounds of one way of sending, kept for their medians. */
class SendRounds {
  readonly rates: number[] = [];
  readonly serverCpu: number[] = [];
  /** Where the rest of the machine's CPU went: PostgreSQL's processes (throwaway cluster only), this load generator. */
  readonly databaseCpu: number[] = [];
  readonly clientCpu: number[] = [];
  readonly wal = { flushesPerSecond: [] as number[], messagesPerFlush: [] as number[], msPerFlush: [] as number[], flushShare: [] as number[] };

  add(r: SendRound): void {
    this.rates.push(r.rate);
    this.serverCpu.push(r.serverCpuUs);
    this.clientCpu.push(r.clientCpuUs);
    if (Number.isFinite(r.databaseCpuUs)) this.databaseCpu.push(r.databaseCpuUs);
    const { flushed, msPerFlush } = flushFigures(r);
    if (!flushed) return;
    this.wal.flushesPerSecond.push(r.flushes / r.seconds);
    this.wal.messagesPerFlush.push(r.rate * r.seconds / r.flushes);
    if (Number.isFinite(msPerFlush)) {
      this.wal.msPerFlush.push(msPerFlush);
      this.wal.flushShare.push(r.flushMs / (r.seconds * 1000));
    }
  }
}

/**
 * 4. 20 concurrent senders into 20 rooms, against the bare node:http ceiling with the same
 * request shape. With several processes, twice: each sender through process w mod N, as a
 * load balancer spreading clients would send them; then every sender through the first
 * process, as a proxy that routes room sends to one process (docs/scaling.md) would. Each
 * process batches only the sends it receives, so how sends are spread sets the batch size.
 */
export const throughput: Scenario = async ({ api, apis, smoke, ceilingUrl, ask, log, metric }) => {
  const users = await makeUsers(api, SENDERS, 'tput');
  const rooms = await Promise.all(users.map((u) => api.createRoom(u)));
  const seconds = smoke ? 1 : 5;
  const runs = smoke ? 1 : 3;
  // one connection per sender, as 20 clients would have (lean-client.ts: the load
  // generator must not take the CPU the server needs)
  const axonConnections = users.map((_, w) => LeanConnection.forUrl(apis[w % apis.length]!.baseUrl));
  const ceilingConnections = users.map(() => LeanConnection.forUrl(ceilingUrl));
  const body = JSON.stringify({ msgtype: 'm.text', body: 'throughput' });

  /** One timed round of sends over `connections` (sender w on connections[w]), with what it cost. */
  async function sendRound(connections: readonly LeanConnection[], axonSeconds: number): Promise<SendRound> {
    const flushes0 = await ask('database-wal-flushes');
    const flushMs0 = await ask('database-wal-flush-ms');
    const axonCpu0 = await ask('server-cpu-ms');
    const databaseCpu0 = await ask('database-cpu-ms');
    const clientCpu0 = process.cpuUsage();
    const rate = await runFor(axonSeconds * 1000, SENDERS, async (w) => {
      const r = await connections[w]!.request('PUT',
        `/_matrix/client/api/v1/rooms/${encodeURIComponent(rooms[w]!)}/send/m.room.message/${txnId()}`, body, users[w]!.token);
      if (r.status !== 200 || !r.text.includes('"event_id"')) throw new Error(`send: ${r.status} ${r.text}`);
    });
    const clientCpuUsed = process.cpuUsage(clientCpu0);
    const messages = rate * axonSeconds;
    return {
      seconds: axonSeconds,
      rate,
      serverCpuUs: ((await ask('server-cpu-ms')) - axonCpu0) * 1000 / messages,
      databaseCpuUs: ((await ask('database-cpu-ms')) - databaseCpu0) * 1000 / messages,
      clientCpuUs: (clientCpuUsed.user + clientCpuUsed.system) / messages,
      // PostgreSQL only: each commit holds the append lock until its WAL flush is on disk.
      // NaN, and no rows, unless both readings have the figure.
      flushes: (await ask('database-wal-flushes')) - flushes0,
      flushMs: (await ask('database-wal-flush-ms')) - flushMs0,
    };
  }
  const summary = (r: SendRound): string => {
    const { flushed, msPerFlush } = flushFigures(r);
    const walNote = flushed
      ? `; ${(r.flushes / r.seconds).toFixed(0)} WAL flushes/s${Number.isFinite(msPerFlush) ? ` of ${msPerFlush.toFixed(2)} ms` : ''}`
      : '';
    const databaseNote = Number.isFinite(r.databaseCpuUs) ? `; PostgreSQL ${r.databaseCpuUs.toFixed(0)} us` : '';
    return `axon ${r.rate.toFixed(0)}/s (${r.serverCpuUs.toFixed(0)} us CPU each${databaseNote}; client ${r.clientCpuUs.toFixed(0)} us${walNote})`;
  };

  const spread = new SendRounds();
  const ceilingRates: number[] = [];
  const ceilingCpu: number[] = [];
  for (let run = 0; run < runs + 1; run++) {
    // The warm-up (run 0) is as long per process as one process's: with N processes each
    // sees a Nth of the sends, and its JIT takes N times as long to settle.
    const axonSeconds = run === 0 ? seconds * apis.length : seconds;
    const axon = await sendRound(axonConnections, axonSeconds);
    const ceilingCpu0 = await ask('ceiling-cpu-ms');
    const ceiling = await runFor(seconds * 1000, SENDERS, async (w) => {
      const r = await ceilingConnections[w]!.request('PUT', `/_matrix/client/api/v1/rooms/x/send/m.room.message/${w}.${txnId()}`, body, users[w]!.token);
      if (r.status !== 200) throw new Error(`ceiling: ${r.status} ${r.text}`);
    });
    const ceilingCpuUs = ((await ask('ceiling-cpu-ms')) - ceilingCpu0) * 1000 / (ceiling * seconds);
    // the first round warms up both
    if (run > 0) {
      spread.add(axon);
      ceilingRates.push(ceiling);
      ceilingCpu.push(ceilingCpuUs);
    }
    log(`throughput run ${run}: ${summary(axon)}, ceiling ${ceiling.toFixed(0)}/s (${ceilingCpuUs.toFixed(0)} us CPU each)`);
  }

  // With an event persister (--event-persister), what the others handed it in the spread
  // rounds, and what they had to store themselves because it could not be reached.
  const persisted = (outcome: string): Promise<number> => metric(`axon_event_persister_messages_total{outcome="${outcome}"}`);
  const [forwarded, storedHere] = [await persisted('forwarded'), await persisted('stored_here')];

  // Every sender through the first process: after the spread rounds, so its JIT is warm;
  // one round of warm-up for its larger batches.
  const routed = new SendRounds();
  const routedConnections = apis.length > 1 ? users.map(() => LeanConnection.forUrl(api.baseUrl)) : [];
  for (let run = 0; apis.length > 1 && run < runs + 1; run++) {
    const r = await sendRound(routedConnections, seconds);
    if (run > 0) routed.add(r);
    log(`throughput run ${run}, every send through process 1 of ${apis.length}: ${summary(r)}`);
  }

  // With several processes, how they told each other of their batches (docs/scaling.md):
  // NOTIFYs (a batch's own and the hellos) and lines on the notice streams, whole scenario.
  const notices = (path: string): Promise<number> => metric(`axon_replication_notices_total{path="${path}"}`);
  const [notified, streamed] = apis.length > 1 ? [await notices('notify'), await notices('stream')] : [NaN, NaN];

  for (const c of [...axonConnections, ...ceilingConnections, ...routedConnections]) c.close();
  const axon = median(spread.rates);
  const ceiling = median(ceilingRates);
  return [
    judged({ scenario: '4 throughput', metric: `${SENDERS} senders, ${SENDERS} rooms: messages/s`, value: axon, unit: 'msg/s', target: '>= 3000', synapse: '59-79' }),
    { scenario: '4 throughput', metric: 'bare node:http ceiling, same request shape', value: ceiling, unit: 'req/s' },
    judged({ scenario: '4 throughput', metric: 'Axon / ceiling', value: axon / ceiling, unit: 'ratio', target: '>= 0.5' }),
    // Load-independent views: the server's own CPU time per message, and the rate one
    // core would sustain at that cost; other processes on a shared machine barely move it.
    { scenario: '4 throughput', metric: 'Axon server CPU per message', value: median(spread.serverCpu), unit: 'us' },
    { scenario: '4 throughput', metric: 'ceiling server CPU per request', value: median(ceilingCpu), unit: 'us' },
    { scenario: '4 throughput', metric: 'messages/s one core sustains at that CPU cost', value: 1e6 / median(spread.serverCpu), unit: 'msg/s' },
    { scenario: '4 throughput', metric: 'CPU-cost ratio (ceiling us / Axon us)', value: median(ceilingCpu) / median(spread.serverCpu), unit: 'ratio' },
    ...(spread.databaseCpu.length > 0 ? [{ scenario: '4 throughput', metric: 'PostgreSQL CPU per message (all its processes)', value: median(spread.databaseCpu), unit: 'us' }] : []),
    { scenario: '4 throughput', metric: 'load generator CPU per message', value: median(spread.clientCpu), unit: 'us' },
    // What the disk takes of the write path (PostgreSQL): how many sends share a flush,
    // and how long the flushes held the lock that orders commits.
    ...(spread.wal.flushesPerSecond.length > 0 ? [
      { scenario: '4 throughput', metric: 'PostgreSQL WAL flushes per second', value: median(spread.wal.flushesPerSecond), unit: '/s' },
      { scenario: '4 throughput', metric: 'messages per WAL flush', value: median(spread.wal.messagesPerFlush), unit: 'msgs' },
    ] : []),
    ...(spread.wal.msPerFlush.length > 0 ? [
      { scenario: '4 throughput', metric: 'time per WAL flush', value: median(spread.wal.msPerFlush), unit: 'ms' },
      { scenario: '4 throughput', metric: 'share of the run spent in WAL flushes', value: median(spread.wal.flushShare), unit: 'ratio' },
    ] : []),
    ...(Number.isFinite(forwarded) ? [
      { scenario: '4 throughput', metric: 'messages forwarded to the event persister (spread rounds, warm-up included)', value: forwarded, unit: 'msgs' },
      { scenario: '4 throughput', metric: 'messages stored where received, the persister unreachable', value: Number.isFinite(storedHere) ? storedHere : 0, unit: 'msgs' },
    ] : []),
    ...(Number.isFinite(notified) ? [
      { scenario: '4 throughput', metric: 'replication notices sent by NOTIFY, all processes, whole scenario (hellos included)', value: notified, unit: 'notices' },
      { scenario: '4 throughput', metric: 'replication notices sent on the notice streams, all processes, whole scenario', value: Number.isFinite(streamed) ? streamed : 0, unit: 'notices' },
    ] : []),
    ...(routed.rates.length > 0 ? [
      judged({ scenario: '4 throughput', metric: `${SENDERS} senders, ${SENDERS} rooms, every send through process 1 of ${apis.length}: messages/s`, value: median(routed.rates), unit: 'msg/s', target: '>= 3000' }),
      { scenario: '4 throughput', metric: 'the same: Axon server CPU per message (all processes)', value: median(routed.serverCpu), unit: 'us' },
      ...(routed.databaseCpu.length > 0 ? [{ scenario: '4 throughput', metric: 'the same: PostgreSQL CPU per message', value: median(routed.databaseCpu), unit: 'us' }] : []),
      ...(routed.wal.messagesPerFlush.length > 0 ? [{ scenario: '4 throughput', metric: 'the same: messages per WAL flush', value: median(routed.wal.messagesPerFlush), unit: 'msgs' }] : []),
    ] : []),
  ];
};
