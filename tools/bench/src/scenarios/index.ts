import type { Scenario } from '../scenario.js';
import { catchUp } from './catch-up.js';
import { initialSync } from './initial-sync.js';
import { sendToReceive } from './send-to-receive.js';
import { throughput } from './throughput.js';
import { waitingPolls } from './waiting-polls.js';

export const scenarios: Record<string, Scenario> = {
  'send-to-receive': sendToReceive,
  'initial-sync': initialSync,
  'waiting-polls': waitingPolls,
  throughput,
  'catch-up': catchUp,
};
