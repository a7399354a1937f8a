import pg from 'pg';

type NoticeHandler = (payload: string) => void;
type StateHandler = (up: boolean, err?: Error) => void;

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;
/** A host that does not answer must not hold up a retry, or close(), for minutes. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * One LISTEN connection per process, for every channel the process listens on. PostgreSQL
 * wakes every backend that listens in the database when a NOTIFY commits, whatever the
 * channel, and each then reads the notice queue: a connection per channel is a backend
 * woken for nothing on each notice of another channel (with several processes, each
 * batch of sends).
 *
 * The connection opens on the first `listen`, so a process that listens on nothing (the
 * admin CLI) never opens one. While any channel is listened on, a lost connection is
 * opened again with backoff (100 ms doubling to 5 s) and LISTENs on every channel again;
 * `onState` handlers hear each loss (false) and each return (true), since notices sent
 * in between are lost and each user makes up for them its own way. A first open that
 * failed counts as a loss: the open that succeeds after it is a return.
 */
export class PgListener {
  private readonly channels = new Map<string, NoticeHandler[]>();
  private readonly stateHandlers: StateHandler[] = [];
  /** The live connection, LISTENing on each channel in `listened`. */
  private client: pg.Client | null = null;
  private readonly listened = new Set<string>();
  private opening: Promise<pg.Client> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryMs = FIRST_RETRY_MS;
  /** Lost (or never opened after a failed try) since the state handlers last heard true. */
  private down = false;
  private closed = false;

  constructor(private readonly url: string, private readonly applicationName = 'axon-listen') {}

  /**
   * Hands each notice on `channel` to `handler` (its payload, '' when it had none), and
   * resolves once the channel is listened on. Rejects when the connection cannot be
   * opened now; it is retried meanwhile, and `onState(true)` says when it is back.
   */
  async listen(channel: string, handler: NoticeHandler): Promise<void> {
    // LISTEN takes no parameters: the name goes into the statement, so it must be a plain identifier
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
    if (this.closed) throw new Error('the listener is closed');
    const handlers = this.channels.get(channel);
    if (handlers) handlers.push(handler);
    else this.channels.set(channel, [handler]);
    const client = this.client ?? await this.open();
    if (!this.listened.has(channel)) {
      await client.query(`LISTEN ${channel}`);
      this.listened.add(channel);
    }
  }

  /** Whether notices on `channel` are being heard now. */
  isListening(channel: string): boolean {
    return this.client !== null && this.listened.has(channel);
  }

  /**
   * Called with false (and the error) when the connection is lost, and with true when an
   * open succeeds after a loss or a failed open; not on a first open that succeeds.
   */
  onState(handler: StateHandler): void {
    this.stateHandlers.push(handler);
  }

  private open(): Promise<pg.Client> {
    this.opening ??= this.connect().finally(() => { this.opening = null; });
    return this.opening;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, application_name: this.applicationName, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    client.on('notification', (n) => {
      if (this.closed) return;
      for (const h of this.channels.get(n.channel) ?? []) h(n.payload ?? '');
    });
    // before connect: an error event without a listener would crash the process
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      const channels = [...this.channels.keys()];
      if (channels.length > 0) await client.query(channels.map((c) => `LISTEN ${c}`).join('; '));
      if (this.closed) throw new Error('the listener is closed');
      this.client = client;
      for (const c of channels) this.listened.add(c);
      this.retryMs = FIRST_RETRY_MS;
      // whichever open brings it back (the retry's, or a listen() that came first) says so
      if (this.down) {
        this.down = false;
        for (const h of this.stateHandlers) h(true);
      }
      return client;
    } catch (err) {
      client.removeAllListeners('end');
      client.end().catch(() => {});
      this.down = true;
      this.retry();
      throw err;
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = null;
    this.listened.clear();
    this.down = true;
    client.end().catch(() => {});
    for (const h of this.stateHandlers) h(false, err);
    this.retry();
  }

  /** Opens the connection again after a wait, while anything is listened on. */
  private retry(): void {
    if (this.closed || this.channels.size === 0 || this.retryTimer !== undefined) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(delay * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || this.client) return;
      this.open().catch(() => {});
    }, delay);
    this.retryTimer.unref?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // an open under way is not waited for: it sees `closed` once connected, and ends its client
    const client = this.client;
    this.client = null;
    this.listened.clear();
    await client?.end().catch(() => {});
  }
}
