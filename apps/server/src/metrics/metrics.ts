import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { CounterSeries, HistogramSeries } from './series.js';

/** What the metrics read from the sync notifier (domain/sync/notifier.ts), lazily at scrape time. */
export interface NotifierStatsSource {
  stats(): { readonly waiters: number; readonly activeWaits: number; readonly userStreams: number; readonly wakeups?: number };
}

/** What the metrics read from the replication bus (replication/pg-notify-bus.ts). */
export interface ReplicationStatsSource {
  replicationStats(): { readonly subscribers: number; readonly notify: number; readonly stream: number };
}

/**
 * A counter, one series per `label` value, that follows running totals kept elsewhere
 * (`read` at scrape time: undefined while there are none): `series` maps each label value
 * to its total's key.
 */
function countsCounter<K extends string>(name: string, help: string, label: string, series: Record<string, K>,
  read: () => Readonly<Record<K, number>> | undefined, registers: Registry[]): void {
  const seen = new Map<string, number>();
  new Counter({
    name, help, labelNames: [label], registers,
    collect() {
      const totals = read();
      if (!totals) return;
      for (const [value, key] of Object.entries(series)) {
        this.inc({ [label]: value }, totals[key] - (seen.get(value) ?? 0));
        seen.set(value, totals[key]);
      }
    },
  });
}

// Long-polls run up to the /events timeout, so the buckets reach minutes.
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const DB_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The server's Prometheus metrics, one registry per homeserver (tests run several in one
 * process). Served on the `metrics` listener at /_synapse/metrics; the names are listed in
 * docs/operations.md. Code that wants to report something reaches this through
 * `AppContext.metrics`.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly httpRequests: CounterSeries<'method' | 'route' | 'code'>;
  readonly httpDuration: HistogramSeries<'method' | 'route'>;
  /** Requests being handled now (read at scrape time). */
  httpInFlight = 0;
  /** Room events written (`.value += n`). */
  readonly eventsPersisted: { value: number };
  readonly databaseDuration: HistogramSeries<'operation'>;
  readonly rateLimited: Counter<'limiter'>;
  /** Wake-ups of waiting long-polls; read from the notifier's stats, or incremented directly by code without one. */
  readonly notifierWakeups: Counter;
  private notifierSource: () => NotifierStatsSource | undefined = () => undefined;
  private persisterCounts: () => { readonly forwarded: number; readonly storedHere: number } | undefined = () => undefined;
  private replicationSource: () => ReplicationStatsSource | undefined = () => undefined;
  private lastWakeups = 0;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new CounterSeries('axon_http_requests_total',
      'HTTP requests answered, by method, route template and status code.', ['method', 'route', 'code'], registers);
    this.httpDuration = new HistogramSeries('axon_http_request_duration_seconds',
      'Time from request to the end of the response, by method and route template (long-polls included).',
      ['method', 'route'], HTTP_BUCKETS, registers);
    const self = this;
    new Gauge({
      name: 'axon_http_requests_in_flight', help: 'Requests being handled now, long-polls included.', registers,
      collect() { this.set(self.httpInFlight); },
    });
    this.eventsPersisted = new CounterSeries<never>('axon_events_persisted_total', 'Room events written to the database.', [], registers).child({});
    this.databaseDuration = new HistogramSeries('axon_database_query_duration_seconds',
      'Time spent in storage calls, by storage operation.', ['operation'], DB_BUCKETS, registers);
    this.rateLimited = new Counter({
      name: 'axon_rate_limited_total',
      help: 'Requests refused with 429 M_LIMIT_EXCEEDED, by limiter (rc_message, rc_login, rc_registration).',
      labelNames: ['limiter'], registers,
    });
    const notifier = (): ReturnType<NotifierStatsSource['stats']> | undefined => this.notifierSource()?.stats();
    new Gauge({
      name: 'axon_sync_waiting_long_polls', help: 'Long-polls (/events) parked until something happens.', registers,
      collect() { this.set(notifier()?.waiters ?? 0); },
    });
    new Gauge({
      name: 'axon_sync_active_long_polls', help: 'Long-polls (/events) in progress, parked or checking for events.', registers,
      collect() { this.set(notifier()?.activeWaits ?? 0); },
    });
    new Gauge({
      name: 'axon_notifier_user_streams', help: 'Users the notifier tracks (polled recently).', registers,
      collect() { this.set(notifier()?.userStreams ?? 0); },
    });
    countsCounter('axon_event_persister_messages_total',
      'Room messages this process handed to its event_persister (forwarded), or stored itself because the persister could not be reached (stored_here).',
      'outcome', { forwarded: 'forwarded', stored_here: 'storedHere' }, () => self.persisterCounts(), registers);
    const replication = (): ReturnType<ReplicationStatsSource['replicationStats']> | undefined => self.replicationSource()?.replicationStats();
    new Gauge({
      name: 'axon_replication_notice_subscribers', help: 'Other processes reading this process\'s replication notices on its replication listener.', registers,
      collect() { this.set(replication()?.subscribers ?? 0); },
    });
    countsCounter('axon_replication_notices_total',
      'Replication notices this process sent, by path: NOTIFY on the database (notify), or its notice stream (stream).',
      'path', { notify: 'notify', stream: 'stream' }, replication, registers);
    this.notifierWakeups = new Counter({
      name: 'axon_notifier_wakeups_total', help: 'Waiting long-polls woken by a new event.', registers,
      collect() {
        const total = notifier()?.wakeups;
        if (total !== undefined && total > self.lastWakeups) {
          this.inc(total - self.lastWakeups);
          self.lastWakeups = total;
        }
      },
    });
  }

  /** Where axon_event_persister_messages_total reads from: the PersisterClient's counts. */
  usePersisterCounts(source: () => { readonly forwarded: number; readonly storedHere: number } | undefined): void {
    this.persisterCounts = source;
  }

  /** Where the axon_replication_* metrics read from: the replication bus (several processes on one database). */
  useReplication(source: () => ReplicationStatsSource | undefined): void {
    this.replicationSource = source;
  }

  /** Registration hook for the sync code: where the long-poll gauges read from at scrape time. */
  useNotifier(source: () => NotifierStatsSource | undefined): void {
    this.notifierSource = source;
  }

  /** The exposition text, as served at /_synapse/metrics. */
  async expose(): Promise<string> {
    return this.registry.metrics();
  }
}
