import type { OperationId } from '@axon/contract';

/**
 * Operations spec/ describes that the server does not serve yet: they answer 404
 * M_UNRECOGNIZED like any unknown route. Later issues shrink this list; the routing test
 * reports what remains, and fails if a listed operation gains a handler or vice versa.
 */
export const NOT_YET_IMPLEMENTED: readonly OperationId[] = [];
