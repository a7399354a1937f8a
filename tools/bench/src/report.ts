import { cpus, totalmem } from 'node:os';
import type { Row } from './scenario.js';

export interface RunInfo {
  date: string;
  mode: string;
  database: string;
  command: string;
  /** 1-minute load average of the machine at the start and at the end of the run. */
  load?: string;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
}

export function table(rows: readonly Row[]): string {
  const lines = ['| scenario | metric | Axon | target | met | Synapse 1.160 |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.scenario} | ${r.metric} | ${fmt(r.value)} ${r.unit} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} | ${r.synapse ?? ''} |`);
  }
  return lines.join('\n');
}

export function section(info: RunInfo, rows: readonly Row[]): string {
  const load = info.load ? ` Load average (1 min) at start / end: ${info.load}.` : '';
  return [`### ${info.date}: ${info.mode}, ${info.database}`, '', `Machine: ${machine()}.${load} Command: \`${info.command}\`.`, '', table(rows), ''].join('\n');
}
