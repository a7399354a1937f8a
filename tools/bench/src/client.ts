// The load side of the bench: a process of its own, so the server's figures are not the
// client's. The orchestrator sends one scenario to run and answers questions about the
// server process (its memory); results go back over IPC.
import { get } from 'node:http';
import { makeAgent } from './http.js';
import { MatrixApi } from './matrix.js';
import type { Row } from './scenario.js';
import { scenarios } from './scenarios/index.js';

interface Job { scenario: string; baseUrls: string[]; metricsUrls: string[]; ceilingUrl: string; smoke: boolean }
type Incoming = { job: Job } | { answer: number; id: number };

const pending = new Map<number, (value: number) => void>();
let nextId = 0;
const send = (msg: unknown): void => { process.send!(msg); };

process.on('message', (msg: Incoming) => {
  if ('answer' in msg) {
    // IPC carries JSON: a NaN (no such figure) arrives as null
    pending.get(msg.id)?.(typeof msg.answer === 'number' ? msg.answer : NaN);
    pending.delete(msg.id);
    return;
  }
  const { job } = msg;
  const scenario = scenarios[job.scenario];
  if (!scenario) {
    send({ error: `unknown scenario ${job.scenario}` });
    return;
  }
  const agent = makeAgent(64);
  const apis = job.baseUrls.map((url) => new MatrixApi(url, agent));
  const scrape = (metricsUrl: string, name: string): Promise<number> => new Promise<number>((resolve, reject) => {
    get(`${metricsUrl}/_synapse/metrics`, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        resolve(line ? Number(line.slice(name.length + 1)) : Number.NaN);
      });
    }).on('error', reject);
  });
  scenario({
    api: apis[0]!,
    apis,
    smoke: job.smoke,
    ceilingUrl: job.ceilingUrl,
    ask: (question) => new Promise<number>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      send({ question, id });
    }),
    log: (message) => send({ log: message }),
    // processes without the sample count as 0; NaN only when none has it
    metric: async (name) => {
      const found = (await Promise.all(job.metricsUrls.map((u) => scrape(u, name)))).filter((v) => !Number.isNaN(v));
      return found.length > 0 ? found.reduce((a, b) => a + b, 0) : Number.NaN;
    },
  }).then(
    (rows: Row[]) => send({ rows }),
    (err: unknown) => send({ error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
