import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/schema.js';

export type { Logger };

/** The `name` of every line. */
const LOGGER_NAME = 'axon';

/**
 * Where code running for a request gets its logger: the handler context, whose `log` is
 * the request's child logger (bound to its `request_id`), made when first read. Domain
 * services take one with the call and log through it, so that their lines carry the
 * request's id. Passed, not found implicitly: an AsyncLocalStorage could give the root
 * logger the id, but on Node 20 its async hooks run for every promise and I/O request,
 * 12-15% of the CPU of a fan-out to waiting polls (docs/benchmarks.md).
 */
export interface LogSource {
  readonly log: Logger;
}

/**
 * Keys that hold secrets wherever they appear (one level deep as well): a second line of
 * defence, since nothing logs bodies, query strings or headers in the first place.
 */
const SECRET_KEYS = [
  'password', 'new_password', 'access_token', 'accessToken', 'mac',
  'registration_shared_secret', 'macaroon_secret_key', 'form_secret', 'authorization', 'cookie',
];
const REDACT_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), 'req.headers.authorization', 'req.query', 'req.url'];

/**
 * JSON lines on stdout (or `destination`). Lines about a request carry its `request_id`:
 * they are written through the request's child logger (see LogSource).
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { name: LOGGER_NAME },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return pino(options, destination ?? stdoutStream());
}

type PinoDestination = DestinationStream & { flush(cb: (err?: Error) => void): void };

/**
 * How long a log line waits for others to share its write. Lines were written once per
 * event-loop turn, asynchronously, and each such write woke a libuv thread-pool thread: a
 * fifth of a send's CPU with three processes on two cores (docs/benchmarks.md, eleventh
 * round). Each line keeps its own time.
 */
export const LOG_BATCH_MS = 20;
/** Characters of waiting lines that are written at once, without waiting for the timer. */
export const LOG_BATCH_CHARS = 1 << 20;

/**
 * Joins the lines written within `intervalMs` of the first into one write to `out`, and
 * writes at once when `maxChars` are waiting, so a burst holds at most that much.
 */
export function batchedWriter(out: { write(text: string): unknown }, intervalMs = LOG_BATCH_MS, maxChars = LOG_BATCH_CHARS) {
  let pending: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | undefined;
  const drain = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    chars = 0;
    out.write(text);
  };
  return {
    write(line: string): void {
      pending.push(line);
      chars += line.length;
      if (chars >= maxChars) drain();
      else if (timer === undefined) timer = setTimeout(drain, intervalMs).unref();
    },
    drain,
  };
}

/**
 * stdout, written synchronously on the event loop, LOG_BATCH_MS of lines at a time: one
 * system call per batch, no thread to wake, and nothing waits in a queue the process
 * cannot wait for when it exits. (An asynchronous write still in the thread pool at exit
 * let the lines handed over after it reach stdout first, or lost it.) A write per line
 * was a system call per request. Lines are joined here rather than in pino's stream,
 * which counts the bytes of everything pending on each write, flattening up to 16 KB: in
 * a burst (a fan-out to 10,000 polls) each line cost about 9 KB of garbage, over 40% of
 * all the fan-out allocated.
 */
function stdoutStream(): DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  const out = pino.destination({ dest: 1, sync: true }) as unknown as PinoDestination;
  const lines = batchedWriter(out);
  process.once('exit', lines.drain);
  return {
    write: lines.write,
    flush(cb?: (err?: Error) => void): void {
      lines.drain();
      out.flush(cb ?? (() => {}));
    },
  };
}

/** One access line's fields (request-log.ts); undefined ones are left out, as pino does. */
export interface AccessLine {
  readonly request_id: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly duration_ms: number;
  readonly user_id: string | undefined;
  readonly client: string;
  readonly operation: string | undefined;
  readonly aborted: boolean;
}

const INFO = 30;
const NAME_JSON = JSON.stringify(LOGGER_NAME);

/**
 * Writes an access line to the logger's stream exactly as `logger.info(fields, 'request')`
 * would (same keys, order and time format), without pino's general path: its merging,
 * redaction and serialisation allocated about 3 KB a line, a tenth of all the garbage of
 * a fan-out to waiting polls. Every field here is known and none is secret.
 *
 * For the root logger of `createLogger` and a plain stream, which is what the request log
 * gets: a child's bindings, or a `pino.multistream` (which reads the level pino records
 * before each write), would need pino's own path.
 */
export function writeAccessLine(logger: Logger, line: AccessLine): void {
  if (logger.levelVal > INFO) return;
  const stream = (logger as unknown as Record<symbol, { write(s: string): void }>)[pino.symbols.streamSym]!;
  stream.write(`{"level":${INFO},"time":"${new Date().toISOString()}","name":${NAME_JSON},"request_id":${JSON.stringify(line.request_id)}`
    + `,"method":${JSON.stringify(line.method)},"path":${JSON.stringify(line.path)},"status":${line.status}`
    + `,"duration_ms":${Number.isFinite(line.duration_ms) ? line.duration_ms : 'null'}${line.user_id === undefined ? '' : `,"user_id":${JSON.stringify(line.user_id)}`}`
    + `,"client":${JSON.stringify(line.client)}${line.operation === undefined ? '' : `,"operation":${JSON.stringify(line.operation)}`}`
    + `${line.aborted ? ',"aborted":true' : ''},"msg":"request"}\n`);
}
