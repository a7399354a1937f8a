import type { MatrixApi } from './matrix.js';

/** One figure of a run. `target` is the bound Axon must meet, when there is one. */
export interface Row {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  /** e.g. '<= 2' or '>= 3000'. */
  target?: string;
  synapse?: string;
  met?: boolean;
}

export interface ScenarioContext {
  /** The first server process. */
  api: MatrixApi;
  /**
   * One per server process (`pnpm bench --processes N`; just `api` otherwise): scenarios
   * spread their clients over them round-robin, as a load balancer would.
   */
  apis: MatrixApi[];
  smoke: boolean;
  ceilingUrl: string;
  /**
   * Asks the orchestrator about the server processes: Axon's resident memory (KiB), or the
   * CPU time (ms) Axon or the ceiling has used so far, which a loaded machine inflates far
   * less than wall-clock rates. With several processes: the sum over them. On PostgreSQL,
   * also the cluster's WAL flushes so far, then (from the same reading) the milliseconds
   * they took: NaN on SQLite, or where the server does not say (cli.ts, walFlushes); and
   * the CPU time of the cluster's processes, NaN unless the bench started the cluster.
   */
  ask(question: 'server-rss-kib' | 'server-cpu-ms' | 'ceiling-cpu-ms' | 'ceiling-rss-kib'
    | 'database-wal-flushes' | 'database-wal-flush-ms' | 'database-cpu-ms'): Promise<number>;
  log(message: string): void;
  /**
   * A sample from the servers' metrics listeners, summed over the processes that have it
   * (NaN when none does): a name, e.g. axon_sync_waiting_long_polls, and any labels as
   * the exposition writes them, e.g. axon_event_persister_messages_total{outcome="forwarded"}.
   */
  metric(name: string): Promise<number>;
}

export type Scenario = (ctx: ScenarioContext) => Promise<Row[]>;

export function judged(row: Omit<Row, 'met'>): Row {
  if (!row.target) return row;
  const m = /^(<=|>=)\s*([\d.]+)$/.exec(row.target);
  if (!m) return row;
  const bound = Number(m[2]);
  return { ...row, met: m[1] === '<=' ? row.value <= bound : row.value >= bound };
}
