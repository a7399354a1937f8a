import type { JsonObject, PersistedEvent } from '../domain/events/types.js';
import type { ForwardedMessage } from '../domain/rooms/room-service.js';

/**
 * How processes hand room messages to the event persister (docs/scaling.md): one POST
 * carries every message a process received while its previous POST was out, so that the
 * persister stores them in its own batches, with its own messages, one commit for all.
 */
export const SEND_MESSAGES_PATH = '/_axon/replication/v1/send_messages';

/** The most messages one POST carries; the rest wait for the next. */
export const MAX_MESSAGES_PER_POST = 256;

/** Room messages are at most 64 KiB each (RoomService), so a full POST fits well within this. */
export const MAX_POST_BYTES = 32 * 1024 * 1024;

export interface SendMessagesRequest {
  readonly messages: readonly {
    readonly user_id: string;
    readonly token_hash: string;
    readonly room_id: string;
    readonly type: string;
    readonly content: JsonObject;
    readonly txn_id: string;
  }[];
}

/** One per message, in order: the stored event, or the Matrix error the client gets. */
export type SendResult =
  | { readonly event: PersistedEvent }
  | { readonly status: number; readonly errcode: string; readonly error: string; readonly extra?: Record<string, unknown> };

export interface SendMessagesResponse {
  readonly results: readonly SendResult[];
}

export function toWire(m: ForwardedMessage): SendMessagesRequest['messages'][number] {
  return { user_id: m.userId, token_hash: m.tokenHash, room_id: m.roomId, type: m.type, content: m.content, txn_id: m.txnId };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A result the client can be answered from: an event with an id, or a Matrix error. */
export function wellFormedResult(r: unknown): r is SendResult {
  if (!isObject(r)) return false;
  if ('event' in r) return isObject(r['event']) && typeof r['event']['event_id'] === 'string';
  const status = r['status'];
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599
    && typeof r['errcode'] === 'string' && typeof r['error'] === 'string' && (r['extra'] === undefined || isObject(r['extra']));
}

/** The request's messages, or a description of what is wrong with it. */
export function parseSendMessages(body: unknown): SendMessagesRequest | string {
  if (!isObject(body) || !Array.isArray(body['messages'])) return 'body must be an object with an array "messages"';
  const messages = body['messages'] as unknown[];
  if (messages.length > MAX_MESSAGES_PER_POST) return `at most ${MAX_MESSAGES_PER_POST} messages per request`;
  for (const [i, m] of messages.entries()) {
    if (!isObject(m)) return `messages[${i}] must be an object`;
    for (const key of ['user_id', 'token_hash', 'room_id', 'type', 'txn_id'] as const) {
      if (!isString(m[key])) return `messages[${i}].${key} must be a string`;
    }
    if (!isObject(m['content'])) return `messages[${i}].content must be an object`;
  }
  return body as unknown as SendMessagesRequest;
}
