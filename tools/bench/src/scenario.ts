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
  api: MatrixApi;
  smoke: boolean;
  ceilingUrl: string;
  /**
   * Asks the orchestrator about the server processes: Axon's resident memory (KiB), or the
   * CPU time (ms) Axon or the ceiling has used so far, which a loaded machine inflates far
   * less than wall-clock rates.
   */
  ask(question: 'server-rss-kib' | 'server-cpu-ms' | 'ceiling-cpu-ms'): Promise<number>;
  log(message: string): void;
  /** A sample without labels from the server's metrics listener, e.g. axon_sync_waiting_long_polls. */
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
