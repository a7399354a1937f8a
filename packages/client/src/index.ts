/**
 * @axon/client: a typed client for the Matrix v1 client-server API (and everything else in
 * Axon's spec), for Node 20 and browsers. It imports nothing Node-only.
 */
export { createClient, MatrixClient } from './client.js';
export type { ClientOptions, FetchFunction, RegisterOptions, SendOptions, TokenPlacement } from './client.js';
export { MatrixError, isMatrixError } from './errors.js';
export type { MatrixErrorBody } from './errors.js';
export { EventStream } from './events-stream.js';
export type { EventBatch, EventsOptions, FetchEventsPage } from './events-stream.js';
export { paginate } from './pagination.js';
export type { FetchMessagesPage, MessagesOptions, MessagesPage } from './pagination.js';
export { backoffDelay } from './backoff.js';
export type { RetryInfo, RetryOptions } from './backoff.js';
export { makeTxnId } from './txn.js';
export type * from './types.js';
export type { paths } from '@axon/contract';
