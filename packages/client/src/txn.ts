/**
 * Transaction ids for `PUT /rooms/{roomId}/send/{eventType}/{txnId}`.
 *
 * The server deduplicates sends per access token and txnId, so two different messages must
 * never share one, even across page reloads, tabs or processes using the same token (the
 * era's SDK used `"m" + Date.now()` and lost messages sent within the same millisecond).
 * An id is `<time in base 36>.<random per process>.<counter>`: the counter makes ids unique
 * within this JavaScript realm, the 64 random bits make them unique across realms, the time
 * keeps them roughly sortable for humans reading logs.
 */

const realmId = randomBase36();
let counter = 0;

function randomBase36(): string {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return Array.from(words, (w) => w.toString(36).padStart(7, '0')).join('');
}

/** A new transaction id, unique across calls, processes and browser tabs. */
export function makeTxnId(): string {
  counter += 1;
  return `${Date.now().toString(36)}.${realmId}.${counter.toString(36)}`;
}
