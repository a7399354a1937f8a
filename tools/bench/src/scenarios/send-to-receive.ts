import { LeanConnection } from '../lean-client.js';
import { makeUsers, txnId, type User } from '../matrix.js';
import { judged, type Scenario } from '../scenario.js';
import { summarize } from '../stats.js';

/** 1. One client waits on /events, another sends, one message at a time. */
export const sendToReceive: Scenario = async ({ api, apis, smoke, log, ceilingUrl }) => {
  // with several processes the poll waits on the last one and the send goes through the
  // first: a cross-process wake-up
  const pollApi = apis.at(-1)!;
  const [alice, bob] = await makeUsers(api, 2, 's2r');
  const roomId = await api.createRoom(alice!);
  await api.join(bob!, roomId);
  const start = (await pollApi.events(bob!, undefined, 0)).end;
  const encodedRoom = encodeURIComponent(roomId);
  const warmup = smoke ? 3 : 20;
  const count = smoke ? 10 : 200;
  const runs = smoke ? 1 : 3;

  /**
   * The exchange, timed from the send to the moment the poll has the message. The measured
   * requests go through lean-client.ts: node:http's client would add its own CPU time to
   * each latency (one connection each, as two clients would have).
   */
  const measure = async (senderUrl: string, pollerUrl: string, label: string): Promise<number[]> => {
    const from = { token: start };
    const sender = LeanConnection.forUrl(senderUrl);
    const poller = LeanConnection.forUrl(pollerUrl);
    const send = async (user: User, body: string): Promise<string> => {
      const r = await sender.request('PUT', `/_matrix/client/api/v1/rooms/${encodedRoom}/send/m.room.message/${txnId()}`,
        JSON.stringify({ msgtype: 'm.text', body }), user.token);
      if (r.status !== 200) throw new Error(`send: ${r.status} ${r.text}`);
      return (JSON.parse(r.text) as { event_id: string }).event_id;
    };
    const events = async (user: User, since: string, timeoutMs: number): Promise<{ end: string; chunk: { event_id?: string }[] }> => {
      const r = await poller.request('GET', `/_matrix/client/api/v1/events?${new URLSearchParams({ timeout: String(timeoutMs), from: since })}`, undefined, user.token);
      if (r.status !== 200) throw new Error(`events: ${r.status} ${r.text}`);
      return JSON.parse(r.text) as { end: string; chunk: { event_id?: string }[] };
    };
    const latencies: number[] = [];
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < warmup + count; i++) {
        const poll = events(bob!, from.token, 30_000);
        // give the poll time to park, so the measure is of a real wake-up
        await new Promise((r) => setTimeout(r, 2));
        const t0 = performance.now();
        const [eventId] = await Promise.all([send(alice!, `ping ${i}`), poll.then(() => undefined)]);
        let got = await poll;
        from.token = got.end;
        while (!got.chunk.some((e) => e.event_id === eventId)) {
          got = await events(bob!, from.token, 30_000);
          from.token = got.end;
        }
        const ms = performance.now() - t0;
        if (i >= warmup) latencies.push(ms);
      }
      log(`${label} run ${run + 1}/${runs} done`);
    }
    sender.close();
    poller.close();
    return latencies;
  };

  const s = summarize(await measure(api.baseUrl, pollApi.baseUrl, 'send-to-receive'));
  // The same exchange with the bare node:http server (ceiling-server.mjs parks the poll
  // until the send): what this machine's loopback, scheduler and node:http alone cost.
  const floor = summarize(await measure(ceilingUrl, ceilingUrl, 'bare node:http floor'));
  return [
    judged({ scenario: '1 send to receive', metric: 'median', value: s.median, unit: 'ms', target: '<= 2', synapse: '22' }),
    judged({ scenario: '1 send to receive', metric: 'p99', value: s.p99, unit: 'ms', target: '<= 5', synapse: '33' }),
    { scenario: '1 send to receive', metric: 'bare node:http floor, same exchange: median', value: floor.median, unit: 'ms' },
    { scenario: '1 send to receive', metric: 'bare node:http floor, same exchange: p99', value: floor.p99, unit: 'ms' },
  ];
};
