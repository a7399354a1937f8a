// Rows of the receipts, account data and presence tables, shared by the SQLite and
// PostgreSQL stream stores: the columns are the same on both.
import type { JsonObject } from '../domain/events/types.js';
import type { AccountDataRecord, PresenceRecord, PresenceState, ReceiptRecord } from './streams.js';

export interface ReceiptRow { room_id: string; receipt_type: string; user_id: string; event_id: string; ts: number; stream_id: number }
export interface AccountDataRow { user_id: string; room_id: string; type: string; content: string; stream_id: number }
export interface PresenceRow { user_id: string; presence: string; status_msg: string | null; last_active_ts: number; stream_id: number }

export const receiptFromRow = (r: ReceiptRow): ReceiptRecord => ({
  roomId: r.room_id, receiptType: r.receipt_type, userId: r.user_id, eventId: r.event_id, ts: r.ts, streamId: r.stream_id,
});
export const accountDataFromRow = (r: AccountDataRow): AccountDataRecord => ({
  userId: r.user_id, roomId: r.room_id === '' ? null : r.room_id, type: r.type, content: JSON.parse(r.content) as JsonObject, streamId: r.stream_id,
});
export const presenceFromRow = (r: PresenceRow): PresenceRecord => ({
  userId: r.user_id, presence: r.presence as PresenceState, statusMsg: r.status_msg, lastActiveTs: r.last_active_ts, streamId: r.stream_id,
});
