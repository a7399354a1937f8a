import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import pg from 'pg';
import type { Logger } from '../logging.js';
import type { ReplicationStatsSource } from '../metrics/metrics.js';
import { decodeText, escapeTextParams } from '../storage/postgres/pg-db.js';
import { PgListener } from '../storage/postgres/pg-listener.js';
import type { ReplicationBus, ReplicationMessage } from './bus.js';
import { mergeable, mergeEvents, type EventsMessage } from './events-notices.js';
import { isOrigin, isStreamUrl, NoticeSubscribers, NoticeSubscription, type NoticeSource } from './notice-streams.js';

const CHANNEL = 'axon_replication';
/** NOTIFY payloads must stay under 8000 bytes; typing ids are bounded well below that. */
const MAX_PAYLOAD = 7900;
/** How often a bus that has heard no other process says hello again (in case its first was lost). */
const LONELY_HELLO_MS = 10_000;
/**
 * How often a bus with other processes about says it is still there; one that said it
 * would (`beacons`) and is not heard for three of these is taken for gone.
 */
const BEACON_MS = 10_000;

/**
 * A bus's greeting: processes of earlier versions pass it on, and their replicators ignore
 * it. `url`: the replication listener where it streams its notices (serveNotices).
 * `beacons`: it says hello every BEACON_MS (processes of earlier versions do not).
 */
interface Hello {
  readonly t: 'hello';
  readonly re?: true;
  readonly url?: string;
  readonly beacons?: true;
  /** The processes whose notice streams it reads now: a publisher cuts a stream it is not reading (a link broken silently). */
  readonly reads?: readonly string[];
}
/** A bus closing: the others forget it at once rather than after three beacons. */
interface Bye { readonly t: 'bye' }
type Sent = ReplicationMessage | Hello | Bye;

export interface PgNotifyBusOptions {
  /** worker_replication_secret: to subscribe to the others' notice streams. */
  readonly secret?: string;
  /** BEACON_MS, for tests. */
  readonly beaconMs?: number;
}

interface Peer {
  /** Its notice stream, when it offers one. */
  url?: string;
  /** Whether it says hello every BEACON_MS, and so may be forgotten when it stops. */
  beacons: boolean;
  heardAt: number;
}


const isPos = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string';

/** A PresenceHold: a time by the claimer's clock, no later than a day past this one's (so that later claims can pass it), and a rank in [0, 1). */
const isHold = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && isPos(v[0]) && (v[0] as number) <= Date.now() + 86_400_000
  && typeof v[1] === 'number' && v[1] >= 0 && v[1] < 1;

/** Whether `m` is a message the replicator can take (it comes from another process, or from anyone who can NOTIFY). */
function wellFormed(m: unknown): m is ReplicationMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  switch (r['t']) {
    case 'events':
      return isPos(r['pos']) && (r['from'] === undefined || (isPos(r['from']) && (r['from'] as number) < (r['pos'] as number)))
        && (r['evs'] === undefined
        || (Array.isArray(r['evs']) && r['evs'].every((e) => Array.isArray(e) && e.length === 2 && isPos(e[0]) && isStr(e[1]))));
    case 'redacted': return isStr(r['eventId']);
    case 'receipt': return isPos(r['pos']) && isStr(r['roomId']);
    case 'account_data':
    case 'presence': return isPos(r['pos']) && isStr(r['userId']);
    case 'presence_state':
      return isStr(r['userId']) && (r['presence'] === 'online' || r['presence'] === 'unavailable' || r['presence'] === 'offline')
        && (r['statusMsg'] === null || isStr(r['statusMsg'])) && Number.isSafeInteger(r['lastActiveTs']) && isPos(r['streamId'])
        && (r['hold'] === undefined || isHold(r['hold'])) && (r['seen'] === undefined || isPos(r['seen']));
    case 'presence_ask': return true;
    case 'typing': return isStr(r['roomId']) && isStr(r['userId']) && typeof r['typing'] === 'boolean' && typeof r['timeoutMs'] === 'number';
    default: return false;
  }
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
 *
 * Notice streams. A process with a replication listener (serveNotices) names it in its
 * hellos, and the others, given the secret, subscribe to it (notice-streams.ts). While
 * every process it has heard of is subscribed, it publishes on the streams only, and
 * only its hellos go by NOTIFY; while any is not (an earlier version, a stream being
 * opened again), it publishes by NOTIFY as before. A message on a stream waits for the
 * NOTIFYs already on their way (toStreams); the other way round, positions only grow and
 * a subscriber that opens its stream again catches up from the database (onReconnect),
 * as after a lost LISTEN connection. While
 * it has peers a bus says hello every BEACON_MS, and forgets a peer that does the same
 * once three pass without a word from it (and it does not read this one's stream), so
 * that a process killed does not keep the others on NOTIFY; one that closes says bye.
 */
export class PgNotifyBus implements ReplicationBus, NoticeSource, ReplicationStatsSource {
  /** 16 hex digits (notice-streams.ts isOrigin). */
  readonly origin = randomBytes(8).toString('hex');
  private readonly handlers: ((m: ReplicationMessage) => void)[] = [];
  private readonly reconnectHandlers: (() => void)[] = [];
  private readonly peerHandlers: (() => void)[] = [];
  private readonly peerGoneHandlers: ((origin: string) => void)[] = [];
  /** The other processes heard from; the first makes this one announce room events. */
  private readonly peers = new Map<string, Peer>();
  /** Processes that said bye: their last messages may still come, and must not make them peers again. */
  private readonly departed = new Set<string>();
  private saidBye = false;
  /** The others' notice streams this process reads, by their origin. */
  private readonly subscriptions = new Map<string, NoticeSubscription>();
  /** The others reading this process's notice stream. */
  private readonly subscribers = new NoticeSubscribers();
  /** This process's replication listener, once it serves notices there. */
  private url: string | undefined;
  private publisher: pg.Client | null = null;
  private publishing: Promise<unknown> = Promise.resolve();
  private pending: Sent[] = [];
  /** Messages for the notice streams, written on the next turn. */
  private streamPending: ReplicationMessage[] = [];
  private helloTimer: ReturnType<typeof setInterval> | undefined;
  private beaconTimer: ReturnType<typeof setInterval> | undefined;
  private sending = false;
  /** Whether the NOTIFYs on their way carry messages (not only hellos): toStreams waits for those. */
  private notifyingData = false;
  private closed = false;
  private readonly beaconMs: number;
  /** Notices sent, by path (NOTIFY in band included: sentInBand), for the metrics. */
  private readonly counts = { notify: 0, stream: 0 };

  private constructor(private readonly dbUrl: string, private readonly logger: Logger, private readonly listener: PgListener, private readonly ownsListener: boolean, private readonly options: PgNotifyBusOptions) {
    this.beaconMs = options.beaconMs ?? BEACON_MS;
  }

  /**
   * A bus on `url`, listening through `listener` (the process's one LISTEN connection:
   * PgStorage.notifications), or through a connection of its own when none is given.
   */
  static async connect(url: string, logger: Logger, listener?: PgListener, options: PgNotifyBusOptions = {}): Promise<PgNotifyBus> {
    const bus = new PgNotifyBus(url, logger, listener ?? new PgListener(url), listener === undefined, options);
    try {
      await bus.listen();
    } catch (err) {
      if (bus.ownsListener) await bus.listener.close();
      throw err;
    }
    bus.helloTimer = setInterval(() => { if (bus.peers.size === 0) bus.sendHello(); }, LONELY_HELLO_MS);
    bus.helloTimer.unref?.();
    bus.beaconTimer = setInterval(() => bus.beacon(), bus.beaconMs);
    bus.beaconTimer.unref?.();
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
    if (origin === this.origin || !isOrigin(origin)) return;
    let parsed: Sent | Sent[];
    try {
      parsed = JSON.parse(payload.slice(sep + 1)) as Sent | Sent[];
    } catch {
      return;
    }
    // one message per notice is what processes of earlier versions send
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    // the newest says where its stream is (one sent before serveNotices may share the notice)
    const hello = messages.findLast((m): m is Hello => m?.t === 'hello');
    if (!messages.some((m) => m?.t === 'bye')) this.heard(origin, hello);
    for (const message of messages) {
      if (message?.t === 'bye') {
        // after what it sent before it, in order
        this.departedPeer(origin);
        continue;
      }
      if (message?.t === 'hello') {
        // Every greeting is answered (the sender may have lost an earlier answer), an
        // answer is not: a hello is rare (each LISTEN start, or every LONELY_HELLO_MS).
        if (!message.re) this.sendHello(true);
        continue;
      }
      this.deliver(message);
    }
  }

  /** Hands a message to the handlers: one that is malformed, or that a handler throws on, is dropped. */
  private deliver(message: unknown): void {
    if (!wellFormed(message)) return;
    for (const h of this.handlers) {
      try {
        h(message);
      } catch (err) {
        this.logger.error({ err: (err as Error).message, type: message.t }, 'replication: a message could not be taken');
      }
    }
  }

  /**
   * Records a process heard from (and, from its hello, where it streams its notices); the
   * first one heard runs the onPeer handlers.
   */
  private heard(origin: string, hello?: Hello): void {
    if (this.departed.has(origin)) return;
    const now = performance.now();
    // an address node:http cannot reach as a replication listener is no address
    const url = isStreamUrl(hello?.url) ? hello.url : undefined;
    if (hello && Array.isArray(hello.reads)) this.checkReader(origin, hello.reads);
    const known = this.peers.get(origin);
    if (known) {
      known.heardAt = now;
      if (hello?.beacons === true) known.beacons = true;
      if (hello && url !== known.url) {
        known.url = url;
        this.subscribe(origin, known.url);
      }
      return;
    }
    const first = this.peers.size === 0;
    this.peers.set(origin, { url, beacons: hello?.beacons === true, heardAt: now });
    this.subscribe(origin, url);
    if (first) for (const h of this.peerHandlers) h();
  }

  /** Reads `origin`'s notice stream at `url` from now on (none: stops reading it). */
  private subscribe(origin: string, url: string | undefined): void {
    const current = this.subscriptions.get(origin);
    if (current && current.options.url === url) return;
    current?.close();
    this.subscriptions.delete(origin);
    const secret = this.options.secret;
    if (url === undefined || secret === undefined || this.closed) return;
    const subscription = new NoticeSubscription({
      url, from: this.origin, to: origin, secret,
      onUp: () => {
        this.logger.info({ peer: url }, 'replication: reading notices from the stream');
        // what it published while the stream was not open came by NOTIFY or not at all
        for (const h of this.reconnectHandlers) h();
      },
      onMessages: (messages) => {
        const peer = this.peers.get(origin);
        if (peer) peer.heardAt = performance.now();
        for (const message of messages as Sent[]) {
          if (message?.t === 'bye') {
            // before its stream ends: no warning that it did
            this.departedPeer(origin);
            return;
          }
          if (message?.t !== 'hello') this.deliver(message);
        }
      },
      onDown: (reason, wasUp) => {
        // a process gone refuses every retry until it is forgotten: only the loss is news
        if (wasUp) this.logger.warn({ peer: url, reason }, 'replication: notice stream lost; opening it again');
        else this.logger.debug({ peer: url, reason }, 'replication: notice stream not opened; trying again');
      },
      onGone: (reason) => {
        // Restarted (a new process has the address now; the old one stops saying hello and
        // is forgotten), an address that reaches another process or service from here, or
        // one named by someone without the secret. Either way its notices come by NOTIFY,
        // and its hellos naming this address change nothing.
        this.logger.warn({ peer: url, reason }, 'replication: another process answers at this notice stream\'s address; not reading it');
        if (this.subscriptions.get(origin) === subscription) this.subscriptions.delete(origin);
      },
    });
    this.subscriptions.set(origin, subscription);
    subscription.start();
  }

  private forget(origin: string): void {
    this.subscriptions.get(origin)?.close();
    this.subscriptions.delete(origin);
    if (!this.peers.delete(origin)) return;
    for (const h of this.peerGoneHandlers) {
      try {
        h(origin);
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'replication: a handler failed on a process gone');
      }
    }
  }

  private departedPeer(origin: string): void {
    if (this.departed.size >= 1_000) this.departed.clear();
    this.departed.add(origin);
    this.forget(origin);
  }

  /**
   * Tells the others this process is going, on its streams and by NOTIFY: they forget it
   * now rather than after three beacons, and its last notices (it may still be finishing
   * requests) come by NOTIFY.
   */
  private sayBye(): void {
    if (this.saidBye || this.closed) return;
    this.saidBye = true;
    this.writeStreams();
    this.subscribers.send(`${JSON.stringify([{ t: 'bye' }])}\n`);
    if (this.peers.size > 0) this.enqueue({ t: 'bye' });
  }

  /**
   * Says it is still there (and which streams it reads), forgets the peers that no longer
   * say so, and writes a heartbeat on its streams, so that a subscriber notices a link
   * broken without a word.
   */
  private beacon(): void {
    if (this.closed) return;
    const now = performance.now();
    for (const [origin, peer] of this.peers) {
      if (peer.beacons && now - peer.heardAt > 3 * this.beaconMs && !this.subscribers.has(origin)) this.forget(origin);
    }
    if (this.peers.size > 0) this.sendHello(true);
    this.subscribers.send('\n');
  }

  /**
   * A subscriber's own account of the streams it reads: one that does not name this
   * process, although its stream here has been open a beacon's time, has lost it without
   * this side seeing the end (a broken link). The stream is cut, and notices go by NOTIFY
   * until it subscribes again.
   */
  private checkReader(origin: string, reads: readonly unknown[]): void {
    const since = this.subscribers.since(origin);
    if (since === undefined || reads.includes(this.origin) || performance.now() - since < this.beaconMs) return;
    this.logger.warn({ peer: origin }, 'replication: a subscriber no longer reads this process\'s notice stream; cutting it');
    this.subscribers.cut(origin);
  }

  /**
   * Streams this process's notices from its replication listener at `url` (reachable by
   * the other processes) from now on: it names it in a hello, and the others subscribe.
   */
  serveNotices(url: string): void {
    this.url = url;
    this.sendHello();
  }

  acceptSubscriber(from: string, to: string, res: ServerResponse, proof: string): boolean {
    // going (bye said): a stream opened now would never be ended
    if (to !== this.origin || this.closed || this.saidBye || !isOrigin(from)) return false;
    this.subscribers.add(from, res, proof, this.beaconMs);
    this.heard(from);
    return true;
  }

  endSubscribers(): void {
    this.sayBye();
    this.subscribers.endAll();
  }

  sentInBand(): void {
    this.counts.notify += 1;
  }

  replicationStats(): { subscribers: number; notify: number; stream: number } {
    return { subscribers: this.subscribers.size, ...this.counts };
  }

  /** Whether every process heard of reads this one's notice stream: then no NOTIFY is needed. */
  private streaming(): boolean {
    if (this.peers.size === 0) return false;
    for (const origin of this.peers.keys()) if (!this.subscribers.has(origin)) return false;
    return true;
  }

  /**
   * Where and how a room-events notice sent by other means (the event store's in-band
   * NOTIFY) reaches the others' buses: null while no other process has been heard, when
   * events are not announced, or while they are announced on the notice streams.
   */
  noticeTarget(): { channel: string; prefix: string } | null {
    return this.peers.size > 0 && !this.closed && !this.streaming() ? { channel: CHANNEL, prefix: `${this.origin} ` } : null;
  }

  /** Whether another process has been heard from, and so whether publish sends anything. */
  get hasPeers(): boolean {
    return this.peers.size > 0;
  }

  private sendHello(answer = false): void {
    if (this.closed) return;
    // which streams it reads, once it reads any or tries to (checkReader)
    const reads = this.subscriptions.size > 0 ? { reads: this.readsNow() } : {};
    const hello: Hello = { t: 'hello', ...(answer ? { re: true as const } : {}), ...(this.url !== undefined ? { url: this.url } : {}), beacons: true, ...reads };
    this.enqueue(hello);
  }

  /** The processes whose notice streams are open here now. */
  private readsNow(): string[] {
    return [...this.subscriptions].filter(([, s]) => s.up).map(([origin]) => origin);
  }

  private enqueue(message: Sent): void {
    this.pending.push(message);
    if (!this.sending) this.publishing = this.drain();
  }

  private async publisherClient(): Promise<pg.Client> {
    if (this.publisher) return this.publisher;
    // bounded: notices on the streams may wait for a NOTIFY on its way (toStreams)
    const client = new pg.Client({ connectionString: this.dbUrl, application_name: 'axon-notify', keepAlive: true, connectionTimeoutMillis: 10_000, query_timeout: 10_000 });
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
    if (this.streaming()) {
      this.toStreams(message);
      return;
    }
    // what waits for the streams goes first, by NOTIFY now: in order
    if (this.streamPending.length > 0) {
      const waiting = this.streamPending;
      this.streamPending = [];
      for (const m of waiting) this.enqueue(m);
    }
    const last = this.pending.at(-1);
    // a pending message means a drain is under way: replacing one needs no new drain
    if (message.t === 'events' && last?.t === 'events' && mergeable(last, message)) {
      this.pending[this.pending.length - 1] = mergeEvents(last, message);
    } else {
      this.enqueue(message.t === 'events' ? mergeEvents(message) : message);
    }
  }

  /** Queues a message for the notice streams: this turn's messages go in one line. */
  private toStreams(message: ReplicationMessage): void {
    const pending = this.streamPending;
    const last = pending.at(-1);
    if (message.t === 'events' && last?.t === 'events' && mergeable(last, message)) {
      pending[pending.length - 1] = mergeEvents(last, message);
      return;
    }
    pending.push(message.t === 'events' ? mergeEvents(message) : message);
    if (pending.length > 1) return;
    const flush = (): void => { setImmediate(() => this.writeStreams()); };
    // After the NOTIFYs on their way (sent before the streams were all open, or a hello):
    // a message on a stream would overtake them, and typing's order matters. Those are
    // what was queued before, so the wait is a round trip at most.
    if (this.notifyingData) void this.publishing.then(flush);
    else flush();
  }

  private writeStreams(): void {
    const messages = this.streamPending;
    this.streamPending = [];
    if (messages.length === 0 || this.closed) return;
    if (!this.streaming()) {
      // a stream closed since they were queued: its reader would miss them
      if (this.peers.size > 0) for (const m of messages) this.enqueue(m);
      return;
    }
    this.counts.stream += 1;
    this.subscribers.send(`${JSON.stringify(messages)}\n`);
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
        this.notifyingData = messages.some((m) => m.t !== 'hello');
        for (const payload of this.payloads(messages)) {
          try {
            this.counts.notify += 1;
            // prepared once per connection: PostgreSQL parsed the unnamed statement on every notice
            await (await this.publisherClient()).query({ name: 'axon_notify', text: 'SELECT pg_notify($1, $2)', values: [CHANNEL, payload] });
          } catch (err) {
            this.logger.warn({ err: (err as Error).message }, 'replication: publish failed; others catch up from the database');
          }
        }
      }
    } finally {
      this.sending = false;
      this.notifyingData = false;
    }
  }

  /** The messages as few notice payloads as fit in MAX_PAYLOAD bytes each, in order. */
  private payloads(messages: readonly Sent[]): string[] {
    const prefix = `${this.origin} [`;
    const out: string[] = [];
    let current = '';
    let currentBytes = 0;
    for (const message of messages) {
      // a hello says which streams it reads as it goes, not as it was queued (checkReader)
      let json = JSON.stringify(message.t === 'hello' && message.reads ? { ...message, reads: this.readsNow() } : message);
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

  onPeerGone(handler: (origin: string) => void): void {
    this.peerGoneHandlers.push(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.sayBye();
    this.closed = true;
    clearInterval(this.helloTimer);
    clearInterval(this.beaconTimer);
    for (const s of this.subscriptions.values()) s.close();
    this.subscriptions.clear();
    this.subscribers.endAll();
    await this.publishing;
    await Promise.all([this.ownsListener ? this.listener.close() : undefined, this.publisher?.end().catch(() => {})]);
    this.publisher = null;
  }
}
