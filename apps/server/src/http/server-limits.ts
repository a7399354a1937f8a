import { STATUS_CODES, type Server, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Socket-level limits of the client listener, so a slow or broken client cannot hold a
 * connection (and its memory) forever:
 *
 * - headersTimeout: the whole header block must arrive within this (slow loris);
 * - requestTimeout: the whole request, body included, must arrive within this. It does
 *   not limit the response, so long-polls (GET /events?timeout=...) are unaffected;
 * - keepAliveTimeout: an idle keep-alive connection is closed after this;
 * - connectionsCheckingInterval: how often Node checks the two request timeouts.
 *
 * Tests lower these (the object is read when a server is created).
 */
export const serverLimits = {
  headersTimeout: 20_000,
  requestTimeout: 60_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
  /** Node's default, stated: larger header blocks are refused with 431. */
  maxHeaderSize: 16 * 1024,
};

export function serverOptions(): ServerOptions {
  const { headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval, maxHeaderSize } = serverLimits;
  return { headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval, maxHeaderSize };
}

/**
 * Node answers requests it cannot parse (bad request lines, oversized headers, timeouts)
 * with a bare status line; this answers them as Matrix errors, like every other refusal,
 * and closes the connection.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({
      errcode: status === 431 ? 'M_TOO_LARGE' : 'M_UNKNOWN',
      error: status === 408 ? 'Request timed out' : status === 431 ? 'Request headers too large' : 'Bad request',
    });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
