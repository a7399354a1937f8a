const UNITS: Record<string, number> = { ms: 1, '': 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Reads a Synapse-style duration such as "1h", "30s" or "5000" (milliseconds) as milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+)(ms|s|m|h|d|w)?$/.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * UNITS[m[2] ?? '']!;
}
