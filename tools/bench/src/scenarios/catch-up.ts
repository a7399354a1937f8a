import { makeUsers, seedRooms } from '../matrix.js';
import { judged, type Scenario } from '../scenario.js';
import { median } from '../stats.js';

/** 5. /events from a token 10,000 events back, paged to the end by following `end`. */
export const catchUp: Scenario = async ({ api, smoke, log }) => {
  const rooms = smoke ? 5 : 100;
  const perRoom = smoke ? 10 : 100;
  const [user] = await makeUsers(api, 1, 'catchup');
  const start = (await api.events(user!, undefined, 0)).end;
  await seedRooms(api, user!, rooms, perRoom);
  const perThousand: number[] = [];
  for (let run = 0; run < (smoke ? 1 : 5); run++) {
    let from = start;
    let events = 0;
    const t0 = performance.now();
    for (;;) {
      const page = await api.events(user!, from, 0);
      if (page.chunk.length === 0) break;
      events += page.chunk.filter((e) => e.type === 'm.room.message').length;
      from = page.end;
    }
    const ms = performance.now() - t0;
    if (events < rooms * perRoom) throw new Error(`caught up on ${events} messages, expected ${rooms * perRoom}`);
    perThousand.push((ms / events) * 1000);
    log(`catch-up run ${run}: ${events} messages in ${ms.toFixed(0)} ms`);
  }
  return [judged({ scenario: '5 catch-up', metric: `${rooms * perRoom} events back, per 1,000 events`, value: median(perThousand), unit: 'ms', target: '<= 50', synapse: '3800-8100' })];
};
