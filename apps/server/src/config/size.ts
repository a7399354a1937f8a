const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Reads a Synapse-style size such as "50M" or "65536" as a number of bytes. */
export function parseSize(value: string): number {
  const m = /^([0-9]+)([KMG]?)$/.exec(value);
  if (!m) throw new Error(`not a size: ${value}`);
  return Number(m[1]) * UNITS[m[2] ?? '']!;
}
