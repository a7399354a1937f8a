import type { QueryValue } from '@axon/contract';
import type { Requester } from '../domain/accounts/accounts.js';
import type { Logger } from '../logging.js';

/**
 * What Axon's middleware keeps in `res.locals`, every field there from the start. Express 5
 * makes `res.locals` an `Object.create(null)`, which V8 keeps as a hash table from its
 * first key on: about 250 bytes more for every response, held for as long as a long-poll
 * waits (docs/benchmarks.md, eighteenth round). Express keeps a `locals` it finds.
 */
export class ResponseLocals {
  /** `GET-12`: request-log.ts. */
  requestId: string | undefined = undefined;
  /** The request's child logger, made when first asked for (requestLogger). */
  log: Logger | undefined = undefined;
  /** Set by the auth middleware for a request with a valid access token. */
  requester: Requester | undefined = undefined;
  /** The spec's operationId of the matched route. */
  operationId: string | undefined = undefined;
  /** The query string, checked and typed against the operation's parameters. */
  query: Record<string, QueryValue> | undefined = undefined;
  /** The request body: parsed JSON, or a Buffer for raw uploads. */
  body: unknown = undefined;
  /** The route's handler ran: errors after this point are the handler's own. */
  handlerStarted = false;
}
