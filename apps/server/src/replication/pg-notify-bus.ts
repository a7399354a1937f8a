import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logging.js';
import type { ReplicationBus, ReplicationMessage } from './bus.js';

const CHANNEL = 'axon_replication';
/** NOTIFY payloads must stay under 8000 bytes; typing ids are bounded well below that. */
const MAX_PAYLOAD = 7900;

/**
 * ReplicationBus over PostgreSQL's LISTEN/NOTIFY: one dedicated connection listens, and
 * publishing is a `SELECT pg_notify(...)` on a second one. Each process tags its messages
 * with a random origin id and drops its own. Reconnects with backoff.
 */
export class PgNotifyBus implements ReplicationBus {
  private readonly origin = randomBytes(8).toString('hex');
  private readonly handlers: ((m: ReplicationMessage) => void)[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];
  private listener: pg.Client | null = null;
  private publisher: pg.Client | null = null;
  private publishing: Promise<unknown> = Promise.resolve();
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(private readonly url: string, private readonly logger: Logger) {}

  static async connect(url: string, logger: Logger): Promise<PgNotifyBus> {
    const bus = new PgNotifyBus(url, logger);
    await bus.listen();
    return bus;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'axon-listen' });
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      const sep = n.payload.indexOf(' ');
      if (n.payload.slice(0, sep) === this.origin) return;
      let message: ReplicationMessage;
      try {
        message = JSON.parse(n.payload.slice(sep + 1)) as ReplicationMessage;
      } catch {
        return;
      }
      for (const h of this.handlers) h(message);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.closed || this.listener !== client) return;
    this.listener = null;
    this.logger.warn({ err: err.message }, 'replication: LISTEN connection lost; reconnecting');
    client.end().catch(() => {});
    const retry = (delay: number): void => {
      this.retryTimer = setTimeout(() => {
        if (this.closed) return;
        this.listen().then(() => {
          this.logger.info('replication: LISTEN connection back');
          for (const h of this.reconnectHandlers) h();
        }, () => retry(Math.min(delay * 2, 5_000)));
      }, delay);
      this.retryTimer.unref?.();
    };
    retry(100);
  }

  private async publisherClient(): Promise<pg.Client> {
    if (this.publisher) return this.publisher;
    const client = new pg.Client({ connectionString: this.url, application_name: 'axon-notify' });
    const drop = (): void => { if (this.publisher === client) this.publisher = null; };
    client.on('error', drop);
    client.on('end', drop);
    await client.connect();
    this.publisher = client;
    return client;
  }

  publish(message: ReplicationMessage): void {
    if (this.closed) return;
    const payload = `${this.origin} ${JSON.stringify(message)}`;
    if (payload.length > MAX_PAYLOAD) {
      this.logger.warn({ type: message.t }, 'replication: message too large to publish; others catch up from the database');
      return;
    }
    // In order, one at a time: NOTIFYs from one session are delivered in the order sent.
    this.publishing = this.publishing.then(async () => {
      try {
        await (await this.publisherClient()).query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'replication: publish failed; others catch up from the database');
      }
    });
  }

  onMessage(handler: (message: ReplicationMessage) => void): void {
    this.handlers.push(handler);
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.publishing;
    await Promise.all([this.listener?.end().catch(() => {}), this.publisher?.end().catch(() => {})]);
    this.listener = null;
    this.publisher = null;
  }
}
