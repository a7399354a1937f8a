import { parseArgs } from 'node:util';

export class UsageError extends Error {}

type Spec = Record<string, { type: 'string' | 'boolean' }>;

/** Parses `--flag value` options, rejecting unknown flags with a usage error. */
export function parseFlags<S extends Spec>(args: string[], spec: S): { [K in keyof S]?: S[K]['type'] extends 'string' ? string : boolean } {
  try {
    const { values } = parseArgs({ args, options: spec, strict: true, allowPositionals: false });
    return values as { [K in keyof S]?: S[K]['type'] extends 'string' ? string : boolean };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new UsageError(`missing --${flag}`);
  return value;
}
