import type { PgListener } from './pg-listener.js';

/** The channel migration 7's triggers notify on. */
const CHANNEL = 'axon_token_revoked';

/**
 * Storage.tokenGeneration for PostgreSQL. Every statement that may end a token (a delete
 * from access_tokens, a change to users.deactivated), from this process, another one, the
 * admin CLI or psql, fires a trigger that NOTIFYs CHANNEL after its commit; the process's
 * LISTEN connection (PgListener) counts those notices. While that connection is down the
 * answer is undefined, so tokens are checked against the database on every request; losing
 * it and getting it back both count as a revocation, since notices may have been missed
 * between.
 *
 * Nothing is listened on before the first question, so the admin CLI, which checks no
 * tokens, never opens the connection.
 */
export class TokenRevocations {
  private generation = 0;
  private subscribed = false;

  constructor(private readonly listener: PgListener) {}

  current(): number | undefined {
    if (this.listener.isListening(CHANNEL)) return this.generation;
    if (!this.subscribed) this.subscribe();
    return undefined;
  }

  /** A revocation made through this process: counted at once, without waiting for its notice. */
  bump(): void {
    this.generation++;
  }

  private subscribe(): void {
    this.subscribed = true;
    this.listener.onState(() => { this.generation++; });
    // a failure to connect now is retried by the listener, and its return counted by onState
    this.listener.listen(CHANNEL, () => { this.generation++; }).then(() => { this.generation++; }, () => {});
  }
}
