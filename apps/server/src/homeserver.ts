import { createServer, type Server } from 'node:http';
import type { HomeserverConfig } from './config/schema.js';
import { Accounts } from './domain/accounts/accounts.js';
import { NonceStore } from './domain/accounts/shared-secret.js';
import { UiaSessions } from './domain/accounts/uia.js';
import { RoomReads } from './domain/rooms/room-reads.js';
import { RoomService } from './domain/rooms/room-service.js';
import { SyncService } from './domain/sync/sync-service.js';
import { parseDuration } from './config/duration.js';
import { DirectoryService } from './domain/directory/directory-service.js';
import { MediaService } from './domain/media/media-service.js';
import { ProfileService } from './domain/profile/profile-service.js';
import { createApp, type CreateAppOptions } from './http/app.js';
import { expressClasses } from './http/express-classes.js';
import { CORS_HEADERS } from './http/middleware/cors.js';
import { closeGracefully, listenOn } from './http/listen.js';
import { answerClientErrors, serverOptions } from './http/server-limits.js';
import type { AppContext } from './http/context.js';
import type { Logger } from './logging.js';
import { openStorage } from './storage/open.js';
import { PgNotifyBus } from './replication/pg-notify-bus.js';
import type { PgEventStore } from './storage/postgres/pg-events.js';
import type { PgStorage } from './storage/postgres/pg-storage.js';
import { Replicator } from './replication/replicator.js';
import { PersisterClient } from './replication/persister-client.js';
import { startReplicationListener, type ReplicationListener } from './replication/persister-listener.js';
import { clientListener, metricsListeners, replicationListeners } from './config/listeners.js';
import { instrumentStorage } from './metrics/instrument-storage.js';
import { startMetricsListener, type MetricsListener } from './metrics/listener.js';
import { ServerMetrics, type NotifierStatsSource } from './metrics/metrics.js';

/** How long in-flight requests get to finish after SIGTERM before their sockets are cut. */
const CLOSE_GRACE_MS = 10_000;

export interface RunningHomeserver {
  /** e.g. http://127.0.0.1:8008, with the real port when the config says 0. */
  url: string;
  port: number;
  server: Server;
  context: AppContext;
  /** The first metrics listener's URL (scrape `${metricsUrl}/_synapse/metrics`), when enable_metrics is on. */
  metricsUrl?: string;
  /** The first replication listener's URL, the one other processes' event_persister names. */
  replicationUrl?: string;
  /** Stops accepting, lets in-flight requests finish, then closes the database. */
  close(): Promise<void>;
}

export async function startHomeserver(config: HomeserverConfig, logger: Logger, options: CreateAppOptions = {}): Promise<RunningHomeserver> {
  const metrics = new ServerMetrics();
  const opened = await openStorage(config.database);
  const storage = instrumentStorage(opened, metrics);
  const stopController = new AbortController();
  // Several processes on one PostgreSQL database act as one server (docs/scaling.md).
  let replication: Replicator | null = null;
  let bus: PgNotifyBus | null = null;
  if (config.database.name === 'postgres') {
    try {
      bus = await PgNotifyBus.connect(config.database.args.url, logger, (opened as Partial<Pick<PgStorage, 'notifications'>>).notifications,
        config.worker_replication_secret !== undefined ? { secret: config.worker_replication_secret } : {});
      replication = new Replicator(bus, config.database.args.url, logger);
    } catch (err) {
      // the storage's listener would otherwise go on retrying, and its pool hold the process open
      await storage.close();
      throw err;
    }
  }
  // one-call batches carry their own replication notice (PgEventStore.announceWith)
  if (replication) (storage.events as Partial<Pick<PgEventStore, 'announceWith'>>).announceWith?.(replication.inBandNotice());
  const eventStore = replication ? replication.wrapEvents(storage.events) : storage.events;
  const sync = await SyncService.create({
    events: eventStore, streams: replication ? replication.wrapStreams(storage.streams) : storage.streams,
    presence: { idleAfterMs: parseDuration(config.presence.idle_after), offlineAfterMs: parseDuration(config.presence.offline_after) },
    options: { maxWaitingPollsPerUser: config.max_waiting_polls_per_user },
  });
  // Room messages go to the event persister, when there is one, to be batched there (docs/scaling.md).
  const persister = config.event_persister !== undefined
    ? new PersisterClient(config.event_persister, config.worker_replication_secret!, logger)
    : null;
  const rooms = new RoomService({
    serverName: config.server_name,
    ...(persister ? { forwardMessage: persister.forward } : {}),
    store: eventStore,
    profileOf: async (userId) => {
      const user = await storage.getUser(userId);
      return { displayname: user?.displayname ?? null, avatar_url: user?.avatarUrl ?? null };
    },
    userExists: async (userId) => (await storage.getUser(userId)) !== null,
    // the fan-out to waiting polls is deferred by the sync service (setImmediate)
    onPersisted: (events) => (replication ? replication.onLocalPersisted(events) : sync.onPersisted(events)),
  });
  replication?.attach(sync);
  const context: AppContext = {
    config,
    storage,
    accounts: new Accounts(storage, { serverName: config.server_name, enableRegistration: config.enable_registration }),
    rooms,
    roomReads: new RoomReads(storage.events),
    profiles: new ProfileService(storage, rooms, logger),
    directory: new DirectoryService(config.server_name, storage, rooms, logger),
    media: new MediaService(config.server_name, config.media_store_path, storage.media, logger),
    nonces: new NonceStore(),
    uia: new UiaSessions(),
    logger,
    stopping: stopController.signal,
    sync,
    streams: sync.streams,
    notifier: sync.notifier,
    metrics,
  };
  if (persister) metrics.usePersisterCounts(() => persister.counts);
  if (bus) metrics.useReplication(() => bus ?? undefined);
  // Read at scrape time, so it finds the notifier however the sync code wires it in.
  metrics.useNotifier(() => (context as { notifier?: NotifierStatsSource }).notifier);
  let server: Server;
  let bound: { url: string; port: number };
  try {
    // Header, body and keep-alive timeouts; unparsable requests answered as Matrix errors.
    const app = createApp(context, options);
    server = createServer({ ...serverOptions(), ...expressClasses(app, CORS_HEADERS) }, app);
    answerClientErrors(server);
    bound = await listenOn(server, clientListener(config));
  } catch (err) {
    await replication?.close();
    await storage.close();
    throw err;
  }
  const metricsServers: MetricsListener[] = [];
  const replicationServers: ReplicationListener[] = [];
  try {
    for (const l of metricsListeners(config)) metricsServers.push(await startMetricsListener(l, metrics, logger));
    for (const l of replicationListeners(config)) {
      replicationServers.push(await startReplicationListener(l, config.worker_replication_secret!, rooms, logger, bus ?? undefined));
    }
    // the others read this process's replication notices there rather than by NOTIFY
    if (bus && replicationServers[0]) bus.serveNotices(config.replication_url ?? replicationServers[0].url);
  } catch (err) {
    await Promise.all(metricsServers.map((m) => m.close()));
    await Promise.all(replicationServers.map((r) => r.close(0)));
    await new Promise<void>((resolve) => { server.close(() => resolve()); });
    await replication?.close();
    await storage.close();
    throw err;
  }
  const { url, port } = bound;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Long-polls listen to this and answer at once, so no request is left waiting.
      stopController.abort();
      sync.stop();
      // Sends still waiting on the persister, and any from now on, are stored here while
      // the database is still open (the txnId finds a copy the persister stored after all).
      persister?.close();
      // in-flight requests finish, other processes' messages being stored here too
      await Promise.all([closeGracefully(server, CLOSE_GRACE_MS), ...replicationServers.map((r) => r.close(CLOSE_GRACE_MS))]);
      await Promise.all(metricsServers.map((m) => m.close()));
      await replication?.close();
      await storage.close();
    })();
    return closing;
  };
  return { url, port, server, context, close, metricsUrl: metricsServers[0]?.url, replicationUrl: replicationServers[0]?.url };
}
