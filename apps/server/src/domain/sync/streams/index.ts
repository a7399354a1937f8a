/**
 * The sync streams other than room events, as `app.streams` (AppContext) exposes them.
 * Each write stores (or, for typing, records in memory) the change, advances its stream's
 * position, and wakes the /events polls it concerns after the caller has its answer
 * (the fan-out runs from setImmediate). Validation (is the user in the room, is the event
 * id known, is the body well formed) is the HTTP handler's job; these only record.
 *
 *   app.streams.typing.setTyping(roomId, userId, typing: boolean, timeoutMs = 30000): number
 *     Typing starts, or stops; it expires by itself after timeoutMs (capped at 120 s).
 *     In memory only: positions restart after a restart (old tokens are clamped to now).
 *     Delivered as {type: 'm.typing', room_id, content: {user_ids}} to the room's members.
 *
 *   await app.streams.receipts.addReceipt(roomId, userId, eventId, receiptType = 'm.read', ts = now): number
 *     Keeps the latest receipt per (room, type, user). Delivered as
 *     {type: 'm.receipt', room_id, content: {eventId: {'m.read': {userId: {ts}}}}}.
 *
 *   await app.streams.accountData.put(userId, roomId | null, type, content): number
 *   await app.streams.accountData.get(userId, roomId | null, type): content | null
 *   await app.streams.accountData.getTags(userId, roomId): {tag: {order?}}
 *   await app.streams.accountData.setTag(userId, roomId, tag, content) / deleteTag(userId, roomId, tag): number
 *     Latest content per (user, room or global, type). Tags are room account data of type
 *     m.tag with content {tags: {...}}; use setTag/deleteTag for them. Delivered to the user
 *     only: m.tag (with room_id), then global data, then other room data (with room_id).
 *
 *   await app.streams.presence.set(userId, 'online' | 'unavailable' | 'offline', statusMsg?): number
 *   await app.streams.presence.markActive(userId): number      (an action: online, last_active now)
 *   await app.streams.presence.get(userId): PresenceRecord | null
 *   app.streams.presence.event(record): the m.presence event (for GET /presence/{userId}/status:
 *     content.presence, last_active_ago, currently_active, status_msg)
 *     Polling /events counts as online (the sync layer calls syncStarted); idle for
 *     timings.idleAfterMs turns unavailable, no poll for timings.offlineAfterMs offline.
 *     Delivered to the user and everyone sharing a room with them.
 *
 * Every write returns the new position of its stream (or the current one if nothing
 * changed).
 */
export { TypingStream, type TypingEvent } from './typing.js';
export { ReceiptStream, receiptEvents, type ReceiptEvent } from './receipts.js';
export { AccountDataStream, accountDataStreamEvents, TAG_TYPE, type AccountDataEvent, type AccountDataSnapshot } from './account-data.js';
export { PresenceStream, presenceEvent, DEFAULT_PRESENCE_TIMINGS, type PresenceEvent, type PresenceTimings } from './presence.js';

import type { AccountDataStream } from './account-data.js';
import type { PresenceStream } from './presence.js';
import type { ReceiptStream } from './receipts.js';
import type { TypingStream } from './typing.js';

export interface SyncStreams {
  readonly typing: TypingStream;
  readonly receipts: ReceiptStream;
  readonly accountData: AccountDataStream;
  readonly presence: PresenceStream;
}
