import type { JsonObject } from '../domain/events/types.js';

/**
 * The non-room streams that are stored: receipts, account data and presence. Each row
 * carries the stream position of its latest change (one position counter per stream,
 * kept by the store); only the latest row per key is kept, which is all that sync needs.
 * Typing is not here: it is ephemeral and lives in memory (domain/sync/streams/typing.ts).
 */
export interface ReceiptRecord {
  readonly roomId: string;
  readonly receiptType: string;
  readonly userId: string;
  readonly eventId: string;
  readonly ts: number;
  readonly streamId: number;
}

export interface AccountDataRecord {
  readonly userId: string;
  /** null for global account data. */
  readonly roomId: string | null;
  readonly type: string;
  readonly content: JsonObject;
  readonly streamId: number;
}

export type PresenceState = 'online' | 'unavailable' | 'offline';

export interface PresenceRecord {
  readonly userId: string;
  readonly presence: PresenceState;
  readonly statusMsg: string | null;
  readonly lastActiveTs: number;
  readonly streamId: number;
}

export interface StreamStore {
  /** The newest stored position of each stream (0 when empty). */
  maxReceiptStream(): Promise<number>;
  maxAccountDataStream(): Promise<number>;
  maxPresenceStream(): Promise<number>;

  /** Stores (replacing the user's previous receipt of that type in the room); returns its position. */
  putReceipt(r: Omit<ReceiptRecord, 'streamId'>): Promise<number>;
  /** Receipts changed in (from, to] in the given rooms, oldest first. */
  receiptsInRange(roomIds: readonly string[], from: number, to: number): Promise<ReceiptRecord[]>;
  /** The current receipts of the given rooms, at or before `upTo`. */
  receiptsOfRooms(roomIds: readonly string[], upTo: number): Promise<ReceiptRecord[]>;

  /** Stores the latest content for (user, room, type); returns its position. */
  putAccountData(userId: string, roomId: string | null, type: string, content: JsonObject): Promise<number>;
  getAccountData(userId: string, roomId: string | null, type: string): Promise<AccountDataRecord | null>;
  /** The user's account data changed in (from, to], oldest first. */
  accountDataInRange(userId: string, from: number, to: number): Promise<AccountDataRecord[]>;
  /** All of the user's account data at or before `upTo`. */
  accountDataOf(userId: string, upTo: number): Promise<AccountDataRecord[]>;

  /** Stores the user's presence; returns its position. */
  putPresence(p: Omit<PresenceRecord, 'streamId'>): Promise<number>;
  /** Presence changed in (from, to], oldest first (all users; callers filter). */
  presenceInRange(from: number, to: number): Promise<PresenceRecord[]>;
  /** The stored presence of these users (those without a row are left out). */
  presenceOf(userIds: readonly string[]): Promise<PresenceRecord[]>;
  /** Users whose stored presence is not offline (to expire them after a restart). */
  presenceNotOffline(): Promise<PresenceRecord[]>;
}
