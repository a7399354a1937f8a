import type { AccessTokenRecord, UserRecord } from './storage.js';
import type { JsonObject, Membership, PersistedEvent, RedactionSummary } from '../domain/events/types.js';
import type { RoomMembershipRow, RoomRecord } from './events.js';

/**
 * Row types and converters shared by the SQLite and PostgreSQL stores: the tables have the
 * same columns; booleans are 0/1 in SQLite and true/false in PostgreSQL.
 */
export interface EventRow {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  content: string;
  origin_server_ts: number;
  topological_ordering: number;
  redacts: string | null;
  unsigned: string | null;
  prev_content: string | null;
  replaces_state: string | null;
  txn_token_hash: string | null;
  txn_id: string | null;
}

interface Unsigned {
  prev_sender?: string;
  redacted_because?: RedactionSummary;
}

export function eventFromRow(row: EventRow): PersistedEvent {
  const unsigned = row.unsigned ? (JSON.parse(row.unsigned) as Unsigned) : {};
  return {
    event_id: row.event_id,
    room_id: row.room_id,
    type: row.type,
    ...(row.state_key !== null ? { state_key: row.state_key } : {}),
    sender: row.sender,
    content: JSON.parse(row.content) as JsonObject,
    origin_server_ts: row.origin_server_ts,
    ...(row.redacts !== null ? { redacts: row.redacts } : {}),
    stream_ordering: row.stream_ordering,
    topological_ordering: row.topological_ordering,
    ...(row.prev_content !== null ? { prev_content: JSON.parse(row.prev_content) as JsonObject } : {}),
    ...(unsigned.prev_sender !== undefined ? { prev_sender: unsigned.prev_sender } : {}),
    ...(row.replaces_state !== null ? { replaces_state: row.replaces_state } : {}),
    ...(unsigned.redacted_because !== undefined ? { redacted_because: unsigned.redacted_because } : {}),
    ...(row.txn_id !== null ? { txn_id: row.txn_id } : {}),
    ...(row.txn_token_hash !== null ? { txn_token: row.txn_token_hash } : {}),
  };
}

/** The `unsigned` column: prev_sender and redacted_because, or NULL when neither. */
export function unsignedJson(ev: { prev_sender?: string | undefined; redacted_because?: RedactionSummary | undefined }): string | null {
  const u: Unsigned = {};
  if (ev.prev_sender !== undefined) u.prev_sender = ev.prev_sender;
  if (ev.redacted_because !== undefined) u.redacted_because = ev.redacted_because;
  return Object.keys(u).length ? JSON.stringify(u) : null;
}

/** A boolean column: 0/1 in SQLite, true/false in PostgreSQL. */
type Bool = number | boolean;
const bool = (v: Bool): boolean => v === true || v === 1;

export interface MembershipRow {
  room_id: string;
  user_id: string;
  membership: Membership;
  event_id: string;
  stream_ordering: number;
  forgotten: Bool;
}

export function membershipFromRow(r: MembershipRow): RoomMembershipRow {
  return { roomId: r.room_id, userId: r.user_id, membership: r.membership, eventId: r.event_id, streamOrdering: r.stream_ordering, forgotten: bool(r.forgotten) };
}

export interface RoomRow { room_id: string; creator: string; is_public: Bool; created_ts: number }
export const roomFromRow = (r: RoomRow): RoomRecord => ({ roomId: r.room_id, creator: r.creator, isPublic: bool(r.is_public), createdTs: r.created_ts });

export interface UserRow {
  user_id: string;
  password_hash: string | null;
  admin: Bool;
  deactivated: Bool;
  created_ts: number;
  displayname: string | null;
  avatar_url: string | null;
}

export function userFromRow(row: UserRow): UserRecord {
  return {
    userId: row.user_id,
    passwordHash: row.password_hash,
    admin: bool(row.admin),
    deactivated: bool(row.deactivated),
    createdTs: row.created_ts,
    displayname: row.displayname,
    avatarUrl: row.avatar_url,
  };
}

export interface TokenRow {
  token_hash: string;
  user_id: string;
  device_id: string;
  created_ts: number;
}

export function tokenFromRow(row: TokenRow): AccessTokenRecord {
  return { tokenHash: row.token_hash, userId: row.user_id, deviceId: row.device_id, createdTs: row.created_ts };
}

