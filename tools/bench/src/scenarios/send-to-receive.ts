import { makeUsers } from '../matrix.js';
import { judged, type Scenario } from '../scenario.js';
import { summarize } from '../stats.js';

/** 1. One client waits on /events, another sends, one message at a time. */
export const sendToReceive: Scenario = async ({ api, apis, smoke, log }) => {
  // with several processes the poll waits on the last one and the send goes through the
  // first: a cross-process wake-up
  const pollApi = apis.at(-1)!;
  const [alice, bob] = await makeUsers(api, 2, 's2r');
  const roomId = await api.createRoom(alice!);
  await api.join(bob!, roomId);
  let from = (await pollApi.events(bob!, undefined, 0)).end;
  const warmup = smoke ? 3 : 20;
  const count = smoke ? 10 : 200;
  const runs = smoke ? 1 : 3;
  const latencies: number[] = [];
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < warmup + count; i++) {
      const poll = pollApi.events(bob!, from, 30_000);
      // give the poll time to park, so the measure is of a real wake-up
      await new Promise((r) => setTimeout(r, 2));
      const t0 = performance.now();
      const [eventId] = await Promise.all([api.send(alice!, roomId, `ping ${i}`), poll.then(() => undefined)]);
      let got = await poll;
      from = got.end;
      while (!got.chunk.some((e) => e.event_id === eventId)) {
        got = await pollApi.events(bob!, from, 30_000);
        from = got.end;
      }
      const ms = performance.now() - t0;
      if (i >= warmup) latencies.push(ms);
    }
    log(`send-to-receive run ${run + 1}/${runs} done`);
  }
  const s = summarize(latencies);
  return [
    judged({ scenario: '1 send to receive', metric: 'median', value: s.median, unit: 'ms', target: '<= 2', synapse: '22' }),
    judged({ scenario: '1 send to receive', metric: 'p99', value: s.p99, unit: 'ms', target: '<= 5', synapse: '33' }),
  ];
};
