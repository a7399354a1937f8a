import type { AccessTokenRecord, UserRecord } from './storage.js';
import type { JsonObject, Membership, PersistedEvent, RedactionSummary } from '../domain/events/types.js';
import type { NewEvent, RoomMembershipRow, RoomRecord } from './events.js';

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

const prevFieldsOf = (prev: PersistedEvent | undefined) =>
  (prev ? { prev_content: prev.content, prev_sender: prev.sender, replaces_state: prev.event_id } : {});

/**
 * An appended event's events-row columns from event_id on, as both stores write them (the
 * stream position comes first, or from the row id). `prev` is the state event it replaces.
 */
export function eventColumns(ev: NewEvent, roomId: string, prev: PersistedEvent | undefined, depth: number): unknown[] {
  return [
    ev.event_id, roomId, ev.type, typeof ev.state_key === 'string' ? ev.state_key : null, ev.sender, JSON.stringify(ev.content),
    ev.origin_server_ts, depth, ev.redacts ?? null, unsignedJson(prevFieldsOf(prev)),
    prev ? JSON.stringify(prev.content) : null, prev?.event_id ?? null, ev.txn_token ?? null, ev.txn_id ?? null,
  ];
}

/** The event an append stored (eventColumns' row at `streamOrdering`). */
export function appendedEvent(ev: NewEvent, roomId: string, prev: PersistedEvent | undefined, streamOrdering: number, depth: number): PersistedEvent {
  return {
    event_id: ev.event_id, room_id: roomId, type: ev.type, sender: ev.sender, content: ev.content,
    origin_server_ts: ev.origin_server_ts, stream_ordering: streamOrdering, topological_ordering: depth,
    ...(typeof ev.state_key === 'string' ? { state_key: ev.state_key } : {}),
    ...(ev.redacts !== undefined ? { redacts: ev.redacts } : {}),
    ...prevFieldsOf(prev),
    ...(ev.txn_id !== undefined ? { txn_id: ev.txn_id } : {}),
    ...(ev.txn_token !== undefined ? { txn_token: ev.txn_token } : {}),
  };
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

