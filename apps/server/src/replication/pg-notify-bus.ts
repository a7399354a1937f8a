import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logging.js';
import { decodeText, escapeTextParams } from '../storage/postgres/pg-db.js';
import { PgListener } from '../storage/postgres/pg-listener.js';
import { withinBudget, type ReplicationBus, type ReplicationMessage } from './bus.js';

const CHANNEL = 'axon_replication';
/** NOTIFY payloads must stay under 8000 bytes; typing ids are bounded well below that. */
const MAX_PAYLOAD = 7900;
/** How often a bus that has heard no other process says hello again (in case its first was lost). */
const LONELY_HELLO_MS = 10_000;

/** A bus's greeting: processes of earlier versions pass it on, and their replicators ignore it. */
interface Hello { readonly t: 'hello'; readonly re?: true }
const HELLO: Hello = { t: 'hello' };
/** The answer to a hello: not answered in turn. */
const HELLO_BACK: Hello = { t: 'hello', re: true };
type Sent = ReplicationMessage | Hello;

type EventsMessage = Extract<ReplicationMessage, { t: 'events' }>;

/** Events notices as one: the newest position, and the events they name as far as they fit. */
function mergeEvents(...messages: EventsMessage[]): EventsMessage {
  const pos = Math.max(...messages.map((m) => m.pos));
  const evs = withinBudget(messages.flatMap((m) => m.evs ?? []));
  return evs.length > 0 ? { t: 'events', pos, evs } : { t: 'events', pos };
}

/**
 * ReplicationBus over PostgreSQL's LISTEN/NOTIFY: the process's LISTEN connection
 * (PgListener, shared with the token revocations) listens, and publishing is a
 * `SELECT pg_notify(...)` on a connection of its own (or, for a batch of room events that
 * goes to the database in one call, inside that call: noticeTarget). Each process tags
 * its messages with a random origin id and drops its own. When the LISTEN connection is
 * lost and back, the onReconnect handlers catch up on what was missed.
 *
 * A notice carries a JSON array of messages: what was published while the previous notice
 * was on its way goes out together, and a run of `events` messages shrinks to its newest
 * position (and the events they name, as far as they fit: withinBudget). Under load that
 * is one NOTIFY per batch of sends rather than one per send.
 *
 * A process alone on its database announces no room events: a NOTIFY per batch of sends,
 * a query on a connection of its own, was about a twentieth of a lone process's CPU and of
 * PostgreSQL's. Every bus says hello on the channel each time its LISTEN starts (and every
 * LONELY_HELLO_MS while it has heard no one), and answers every hello; answers are not
 * answered. Hearing anything from another process makes it announce events from then on,
 * and its onPeer handlers announce what it committed unannounced. A hello or an answer
 * lost on the way is made up for by the next one and, meanwhile, by the replicator's
 * safety poll, as any lost notice is. Other messages (receipts, presence, typing, ...)
 * are rare and always published: a process just started may read those positions before
 * the others have heard its hello, and nothing else would make up for them.
 */
export class PgNotifyBus implements ReplicationBus {
  private readonly origin = randomBytes(8).toString('hex');
  private readonly handlers: ((m: ReplicationMessage) => void)[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];
  private readonly peerHandlers: (() => void)[] = [];
  /** The other processes heard from; the first makes this one announce room events. */
  private readonly peers = new Set<string>();
  private publisher: pg.Client | null = null;
  private publishing: Promise<unknown> = Promise.resolve();
  private pending: Sent[] = [];
  private helloTimer: ReturnType<typeof setInterval> | undefined;
  private sending = false;
  private closed = false;

  private constructor(private readonly url: string, private readonly logger: Logger, private readonly listener: PgListener, private readonly ownsListener: boolean) {}

  /**
   * A bus on `url`, listening through `listener` (the process's one LISTEN connection:
   * PgStorage.notifications), or through a connection of its own when none is given.
   */
  static async connect(url: string, logger: Logger, listener?: PgListener): Promise<PgNotifyBus> {
    const bus = new PgNotifyBus(url, logger, listener ?? new PgListener(url), listener === undefined);
    try {
      await bus.listen();
    } catch (err) {
      if (bus.ownsListener) await bus.listener.close();
      throw err;
    }
    bus.helloTimer = setInterval(() => { if (bus.peers.size === 0) bus.sendHello(); }, LONELY_HELLO_MS);
    bus.helloTimer.unref?.();
    return bus;
  }

  private async listen(): Promise<void> {
    this.listener.onState((up, err) => {
      if (this.closed) return;
      if (!up) {
        this.logger.warn({ err: err?.message }, 'replication: LISTEN connection lost; reconnecting');
        return;
      }
      this.logger.info('replication: LISTEN connection back');
      // notices sent while it was down are lost: the handlers catch up, and the others hear this one again
      this.sendHello();
      for (const h of this.reconnectHandlers) h();
    });
    await this.listener.listen(CHANNEL, (raw) => this.received(raw));
    // after LISTEN: whoever answers is heard
    this.sendHello();
  }

  private received(raw: string): void {
    if (this.closed || !raw) return;
    // Payloads are sent as text parameters, escaped as every string is (encodeText):
    // by the notice connection, and by the event store for the notices in its batches.
    const payload = decodeText(raw);
    const sep = payload.indexOf(' ');
    const origin = payload.slice(0, sep);
    if (origin === this.origin) return;
    let parsed: Sent | Sent[];
    try {
      parsed = JSON.parse(payload.slice(sep + 1)) as Sent | Sent[];
    } catch {
      return;
    }
    this.heard(origin);
    // one message per notice is what processes of earlier versions send
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (message.t === 'hello') {
        // Every greeting is answered (the sender may have lost an earlier answer), an
        // answer is not: a hello is rare (each LISTEN start, or every LONELY_HELLO_MS).
        if (!message.re) this.sendHello(HELLO_BACK);
        continue;
      }
      for (const h of this.handlers) h(message);
    }
  }

  /** Records a process heard from; the first one heard runs the onPeer handlers. */
  private heard(origin: string): void {
    if (this.peers.has(origin)) return;
    const first = this.peers.size === 0;
    this.peers.add(origin);
    if (first) for (const h of this.peerHandlers) h();
  }

  /**
   * Where and how a room-events notice sent by other means (the event store's in-band
   * NOTIFY) reaches the others' buses: null while no other process has been heard, when
   * events are not announced.
   */
  noticeTarget(): { channel: string; prefix: string } | null {
    return this.peers.size > 0 && !this.closed ? { channel: CHANNEL, prefix: `${this.origin} ` } : null;
  }

  /** Whether another process has been heard from, and so whether publish sends anything. */
  get hasPeers(): boolean {
    return this.peers.size > 0;
  }

  private sendHello(hello: Hello = HELLO): void {
    if (!this.closed) this.enqueue(hello);
  }

  private enqueue(message: Sent): void {
    this.pending.push(message);
    if (!this.sending) this.publishing = this.drain();
  }

  private async publisherClient(): Promise<pg.Client> {
    if (this.publisher) return this.publisher;
    const client = new pg.Client({ connectionString: this.url, application_name: 'axon-notify' });
    escapeTextParams(client);
    const drop = (): void => { if (this.publisher === client) this.publisher = null; };
    client.on('error', drop);
    client.on('end', drop);
    await client.connect();
    this.publisher = client;
    return client;
  }

  publish(message: ReplicationMessage): void {
    if (this.closed) return;
    // Only room events are held back while alone: onPeer handlers and the replicator's
    // safety poll make up for them. The rest (receipts, presence, typing, ...) is rare,
    // and a process just started may have read those positions before its hello was heard.
    if (message.t === 'events' && this.peers.size === 0) return;
    const last = this.pending.at(-1);
    // a pending message means a drain is under way: replacing one needs no new drain
    if (message.t === 'events' && last?.t === 'events') {
      this.pending[this.pending.length - 1] = mergeEvents(last, message);
    } else {
      this.enqueue(message.t === 'events' ? mergeEvents(message) : message);
    }
  }

  /** Sends what is pending, in order, one notice at a time: a session's NOTIFYs arrive in the order sent. */
  private async drain(): Promise<void> {
    this.sending = true;
    try {
      // the rest of this turn's messages (a batch of sends settles at once) join the first notice
      await new Promise<void>((r) => setImmediate(r));
      while (this.pending.length > 0) {
        const messages = this.pending;
        this.pending = [];
        for (const payload of this.payloads(messages)) {
          try {
            // prepared once per connection: PostgreSQL parsed the unnamed statement on every notice
            await (await this.publisherClient()).query({ name: 'axon_notify', text: 'SELECT pg_notify($1, $2)', values: [CHANNEL, payload] });
          } catch (err) {
            this.logger.warn({ err: (err as Error).message }, 'replication: publish failed; others catch up from the database');
          }
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** The messages as few notice payloads as fit in MAX_PAYLOAD bytes each, in order. */
  private payloads(messages: readonly Sent[]): string[] {
    const prefix = `${this.origin} [`;
    const out: string[] = [];
    let current = '';
    let currentBytes = 0;
    for (const message of messages) {
      let json = JSON.stringify(message);
      let bytes = Buffer.byteLength(json);
      // the events named for leaving unread are a saving, not the news: the position is
      if (prefix.length + bytes + 1 > MAX_PAYLOAD && message.t === 'events') {
        json = JSON.stringify({ t: 'events', pos: message.pos });
        bytes = json.length;
      }
      if (prefix.length + bytes + 1 > MAX_PAYLOAD) {
        this.logger.warn({ type: message.t }, 'replication: message too large to publish; others catch up from the database');
        continue;
      }
      if (current !== '' && prefix.length + currentBytes + 1 + bytes + 1 > MAX_PAYLOAD) {
        out.push(`${prefix}${current}]`);
        current = '';
        currentBytes = 0;
      }
      current = current === '' ? json : `${current},${json}`;
      currentBytes += (currentBytes === 0 ? 0 : 1) + bytes;
    }
    if (current !== '') out.push(`${prefix}${current}]`);
    return out;
  }

  onMessage(handler: (message: ReplicationMessage) => void): void {
    this.handlers.push(handler);
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  onPeer(handler: () => void): void {
    this.peerHandlers.push(handler);
    if (this.peers.size > 0) handler();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.helloTimer);
    await this.publishing;
    await Promise.all([this.ownsListener ? this.listener.close() : undefined, this.publisher?.end().catch(() => {})]);
    this.publisher = null;
  }
}
