import type { OperationId, operations, QueryValue } from '@axon/contract';
import type { Requester } from '../domain/accounts/accounts.js';
import type { Logger } from '../logging.js';
import type { AppContext } from './context.js';
import type { RawJson } from './raw-json.js';

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : unknown;
type Responses<K extends OperationId> = operations[K]['responses'];
type RequestBodyOf<K extends OperationId> = operations[K] extends { requestBody?: infer RB } ? JsonOf<NonNullable<RB>> : undefined;

/** A status the spec describes for the operation, with the body it describes for it. */
export type Reply<K extends OperationId> = {
  [S in keyof Responses<K> & number]: { status: S; body: JsonOf<Responses<K>[S]> };
}[keyof Responses<K> & number];

export interface HandlerContext<K extends OperationId> {
  operationId: K;
  /** Already checked against the spec's body schema. */
  body: RequestBodyOf<K>;
  /** The spec's query parameters, converted to their types. */
  query: Record<string, QueryValue>;
  params: Record<string, string>;
  /** The request headers, lower-cased names (for operations with header parameters). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * Calls `listener.handleEvent()` when the client goes away before the answer (at once if
   * it already has), until the returned function is called; long-polls stop waiting then.
   * One listener at a time. Not an AbortSignal: an AbortController and EventTarget listener
   * per request were a few percent of a fan-out to 10,000 waiting polls.
   */
  whenDisconnected(listener: { handleEvent(): void }): () => void;
  /** The caller; throws M_MISSING_TOKEN on operations without security. */
  requester(): Requester;
  app: AppContext;
  log: Logger;
}

/** A success whose JSON body is already text (http/raw-json.ts). */
export type RawJsonReply = { status: 200; body: RawJson };

export type Handler<K extends OperationId> = (ctx: HandlerContext<K>) => Promise<Reply<K> | RawJsonReply>;
export type HandlerMap = { [K in OperationId]?: Handler<K> };
