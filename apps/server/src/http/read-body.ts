import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import { errors } from '../errors.js';

/**
 * The request body as bytes, for bodies without a Content-Encoding (every Matrix client
 * of the era): what `express.raw` does for them, minus its per-request machinery, which
 * showed in profiles of the send path. Like body-parser, an oversized body (declared or
 * actual) is refused with M_TOO_LARGE only once the client has finished sending it, so the
 * client reads the answer instead of a reset connection.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = req.headers['content-length'];
    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = declared !== undefined && Number(declared) > limitBytes;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      if (tooLarge) return;
      received += chunk.length;
      if (received > limitBytes) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      if (tooLarge) reject(errors.tooLarge());
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onAborted = (): void => {
      cleanup();
      reject(errors.unknown('Request aborted'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onError);
  });
}

/** Requests `readBody` reads: a body without a Content-Encoding (others go to body-parser). */
export function plainBody(req: Request): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding === undefined || encoding.toLowerCase() === 'identity';
}
