import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { ListenerConfig } from '../config/schema.js';
import type { RoomService } from '../domain/rooms/room-service.js';
import { errors, MatrixError } from '../errors.js';
import { closeGracefully, listenOn } from '../http/listen.js';
import { readBody } from '../http/read-body.js';
import type { Logger } from '../logging.js';
import { answerMac, isOrigin, MAX_CLOCK_SKEW_MS, NOTICES_AUTH_SCHEME, NOTICES_PATH, sameMac, subscribeMac, type NoticeSource } from './notice-streams.js';
import { MAX_POST_BYTES, parseSendMessages, SEND_MESSAGES_PATH, type SendResult } from './persister-protocol.js';

export interface ReplicationListener {
  url: string;
  /** Stops accepting; forwarded messages being stored finish first (up to `graceMs`). */
  close(graceMs: number): Promise<void>;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * What processes of one deployment ask each other directly (docs/scaling.md), on a plain
 * HTTP server on its own port, like the metrics listener: nothing of the client API is
 * served here.
 * - The event persister's side of forwarding: the other processes' room messages, stored
 *   by this process's RoomService, batched with its own.
 * - This process's replication notices, streamed to each process that subscribes
 *   (notice-streams.ts), when `notices` is given.
 */
export async function startReplicationListener(listener: ListenerConfig, secret: string, rooms: RoomService, logger: Logger, notices?: NoticeSource): Promise<ReplicationListener> {
  const expected = digest(secret);
  const authorised = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    // hashed first: timingSafeEqual needs equal lengths, and the length is not to leak either
    return timingSafeEqual(digest(header.slice('Bearer '.length)), expected);
  };
  /**
   * A subscription to this process's notices: signed with the secret (notice-streams.ts),
   * which itself never goes on the wire, since addresses come from the NOTIFY channel.
   */
  const subscribe = (url: URL, req: IncomingMessage, res: ServerResponse, notices: NoticeSource): void => {
    const from = url.searchParams.get('from');
    const to = url.searchParams.get('to');
    const ts = url.searchParams.get('ts');
    if (!isOrigin(from) || !isOrigin(to)) throw errors.invalidParam('from and to must be replication origins (16 hex digits)');
    if (ts === null || !/^[0-9]{1,15}$/.test(ts)) throw errors.invalidParam('ts must be a time in milliseconds');
    const header = req.headers.authorization!;
    const scheme = `${NOTICES_AUTH_SCHEME} `;
    if (!header.startsWith(scheme) || !sameMac(header.slice(scheme.length), subscribeMac(secret, from, to, ts))) {
      throw errors.forbidden('Wrong worker_replication_secret');
    }
    // a subscription recorded on the wire and replayed later is refused
    if (Math.abs(Date.now() - Number(ts)) > MAX_CLOCK_SKEW_MS) throw errors.forbidden('ts is too far from this process\'s clock');
    if (!notices.acceptSubscriber(from, to, res, answerMac(secret, from, to, ts))) throw new MatrixError(409, 'M_UNKNOWN', 'Another process serves here now');
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://replication');
    const streaming = url.pathname === NOTICES_PATH && notices !== undefined;
    if (url.pathname !== SEND_MESSAGES_PATH && !streaming) throw errors.unrecognized(404);
    if (req.method !== (streaming ? 'GET' : 'POST')) throw errors.unrecognized(405);
    if (req.headers.authorization === undefined) throw errors.missingToken();
    if (streaming) {
      subscribe(url, req, res, notices);
      return;
    }
    if (!authorised(req)) throw errors.forbidden('Wrong worker_replication_secret');
    const bytes = await readBody(req, MAX_POST_BYTES);
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw errors.notJson();
    }
    const parsed = parseSendMessages(body);
    if (typeof parsed === 'string') throw errors.badJson(parsed);
    // all at once: the store batches them into as few commits as it can
    const results = await Promise.all(parsed.messages.map(async (m): Promise<SendResult> => {
      try {
        const event = await rooms.sendHere({ userId: m.user_id, tokenHash: m.token_hash }, m.room_id, m.type, m.content, { txnId: m.txn_id });
        return { event };
      } catch (err) {
        if (err instanceof MatrixError) {
          return { status: err.httpStatus, errcode: err.errcode, error: err.message, ...(Object.keys(err.extra).length > 0 ? { extra: { ...err.extra } } : {}) };
        }
        logger.error({ err, room_id: m.room_id }, 'replication: storing a forwarded message failed');
        return { status: 500, errcode: 'M_UNKNOWN', error: 'Internal server error' };
      }
    }));
    reply(res, 200, { results });
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof MatrixError ? err : errors.unknown('Internal server error', 500);
      if (!(err instanceof MatrixError)) logger.error({ err }, 'replication: request failed');
      if (!res.headersSent) reply(res, e.httpStatus, e.toJSON());
      else res.destroy();
    });
  });
  const { url } = await listenOn(server, listener);
  return {
    url,
    close: (graceMs) => {
      // the streams never end of themselves
      notices?.endSubscribers();
      return closeGracefully(server, graceMs);
    },
  };
}
