import type { HomeserverConfig } from '../config/schema.js';
import type { Accounts } from '../domain/accounts/accounts.js';
import type { NonceStore } from '../domain/accounts/shared-secret.js';
import type { UiaSessions } from '../domain/accounts/uia.js';
import type { RoomReads } from '../domain/rooms/room-reads.js';
import type { RoomService } from '../domain/rooms/room-service.js';
import type { Notifier } from '../domain/sync/notifier.js';
import type { SyncStreams } from '../domain/sync/streams/index.js';
import type { SyncService } from '../domain/sync/sync-service.js';
import type { DirectoryService } from '../domain/directory/directory-service.js';
import type { MediaService } from '../domain/media/media-service.js';
import type { ProfileService } from '../domain/profile/profile-service.js';
import type { Logger } from '../logging.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { Storage } from '../storage/storage.js';

/** Everything a route handler may reach: the services, never Express itself. */
export interface AppContext {
  config: HomeserverConfig;
  storage: Storage;
  accounts: Accounts;
  nonces: NonceStore;
  uia: UiaSessions;
  rooms: RoomService;
  roomReads: RoomReads;
  profiles: ProfileService;
  directory: DirectoryService;
  media: MediaService;
  logger: Logger;
  /** Aborted when the server starts shutting down; waiting requests answer then. */
  stopping: AbortSignal;
  /** The v1 Sync API: /events, /initialSync, room snapshots and pagination. */
  sync: SyncService;
  /** Typing, receipts, account data, presence: see domain/sync/streams/index.ts. */
  streams: SyncStreams;
  /** Wakes waiting /events polls (the sync service's). */
  notifier: Notifier;
  /** Prometheus metrics (served on the metrics listener); code reports through these. */
  metrics: ServerMetrics;
}
