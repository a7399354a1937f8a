import type { Requester } from '../../domain/accounts/accounts.js';
import type { Actor } from '../../domain/rooms/room-service.js';
import type { LogSource } from '../../logging.js';

/**
 * The acting user of a request. `logs` (the handler context, whose logger is made only
 * when read) for services that log about what the actor asked, so their lines carry the
 * request's id.
 */
export const actor = (r: Requester, logs?: LogSource): Actor =>
  ({ userId: r.userId, tokenHash: r.tokenHash, ...(logs ? { logs } : {}) });
