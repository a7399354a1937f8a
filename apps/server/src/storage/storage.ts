import type { EventStore } from './events.js';
import type { StreamStore } from './streams.js';
import type { MediaStore } from './media.js';
import type { PresenceListStore } from './presence-list.js';

/**
 * What the domain needs from a database. Implementations (sqlite/ now, postgres/ later)
 * keep every SQL statement below this interface; methods are async so that a networked
 * database fits the same shape.
 */
export interface UserRecord {
  userId: string;
  passwordHash: string | null;
  admin: boolean;
  deactivated: boolean;
  createdTs: number;
  displayname: string | null;
  avatarUrl: string | null;
}

export interface NewUser {
  userId: string;
  passwordHash: string | null;
  admin: boolean;
  createdTs: number;
  displayname?: string | null;
}

export interface AccessTokenRecord {
  tokenHash: string;
  userId: string;
  deviceId: string;
  createdTs: number;
}

export interface Storage {
  /** Rooms, events, state, memberships, aliases. */
  readonly events: EventStore;
  /** Receipts, account data and presence: the stored sync streams. */
  readonly streams: StreamStore;
  /** Metadata of uploaded media. */
  readonly media: MediaStore;
  /** The 2015 presence lists. */
  readonly presenceList: PresenceListStore;

  /** Creates the user; false when the user id is taken (nothing is changed then). */
  createUser(user: NewUser): Promise<boolean>;
  getUser(userId: string): Promise<UserRecord | null>;
  /** False when there is no such user. */
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean>;
  /** Profile fields; null clears. False when there is no such user. */
  setDisplayname(userId: string, displayname: string | null): Promise<boolean>;
  setAvatarUrl(userId: string, avatarUrl: string | null): Promise<boolean>;
  /** Every user, ordered by user id (operators' `axon list-users`). */
  listUsers(): Promise<UserRecord[]>;
  /** Marks the user (de)activated; false when there is no such user. Tokens are revoked separately. */
  setDeactivated(userId: string, deactivated: boolean): Promise<boolean>;

  addAccessToken(token: AccessTokenRecord): Promise<void>;
  /** The token's owner, or null if unknown, revoked, or the user is deactivated. */
  getAccessToken(tokenHash: string): Promise<AccessTokenRecord | null>;
  deleteAccessToken(tokenHash: string): Promise<void>;
  /** Revokes all of the user's tokens except `keepTokenHash`; returns how many went. */
  deleteAccessTokensOfUser(userId: string, keepTokenHash?: string): Promise<number>;
  /**
   * A number that changes whenever a token may have stopped being valid: a revocation or
   * deactivation through this store, or one by another connection (the operator's CLI,
   * another server process). Undefined while the store cannot tell (PostgreSQL with its
   * notice connection down); stores that never can leave it out. Tokens are then checked
   * against the database on every request.
   */
  tokenGeneration?(): number | undefined;

  /** The schema version after migrations ran. */
  schemaVersion(): Promise<number>;
  /** Finishes pending writes and closes the database. Safe to call twice. */
  close(): Promise<void>;
}
