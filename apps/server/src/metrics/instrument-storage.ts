import type { AppendResult } from '../storage/events.js';
import type { Storage } from '../storage/storage.js';
import type { ServerMetrics } from './metrics.js';

type AfterCall = (operation: string, result: unknown) => void;

/**
 * `target` with every method timed into the database histogram, labelled `prefix + name`;
 * object-valued properties (the sub-stores: events, streams, media...) are wrapped the
 * same way, one level down.
 */
function timed<T extends object>(target: T, prefix: string, metrics: ServerMetrics, after: AfterCall, depth = 0): T {
  const wrapped = new Map<string, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof prop !== 'string') return value;
      if (wrapped.has(prop)) return wrapped.get(prop);
      let out: unknown = value;
      const operation = prefix + prop;
      if (typeof value === 'function') {
        const original = value as (...args: unknown[]) => unknown;
        const series = metrics.databaseDuration.child({ operation });
        out = (...args: unknown[]): unknown => {
          const started = performance.now();
          let result: unknown;
          try {
            result = original.apply(t, args);
          } catch (err) {
            series.observeSince(started);
            throw err;
          }
          if (!(result instanceof Promise)) {
            series.observeSince(started);
            return result;
          }
          return result.then((r: unknown) => { series.observeSince(started); after(operation, r); return r; }, (err: unknown) => { series.observeSince(started); throw err; });
        };
      } else if (depth === 0 && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        out = timed(value, `${operation}.`, metrics, after, depth + 1);
      } else {
        return value;
      }
      wrapped.set(prop, out);
      return out;
    },
  });
}

/**
 * The storage, with each call timed (`axon_database_query_duration_seconds{operation}`)
 * and each stored event counted (`axon_events_persisted_total`). better-sqlite3 runs
 * statements synchronously, so a call's time is its statements' time (appendEvents
 * includes the auth checks that run inside its transaction).
 */
export function instrumentStorage(storage: Storage, metrics: ServerMetrics): Storage {
  return timed(storage, '', metrics, (operation, result) => {
    if (operation !== 'events.appendEvents') return;
    const r = result as AppendResult;
    if (!r.deduplicated) metrics.eventsPersisted.value += r.events.length;
  });
}
