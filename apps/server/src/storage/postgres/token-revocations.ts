import pg from 'pg';

/** The channel migration 7's triggers notify on. */
const CHANNEL = 'axon_token_revoked';
const RETRY_MS = 1_000;

/**
 * Storage.tokenGeneration for PostgreSQL. Every statement that may end a token (a delete
 * from access_tokens, a change to users.deactivated), from this process, another one, the
 * admin CLI or psql, fires a trigger that NOTIFYs CHANNEL after its commit; one LISTEN
 * connection per process counts those notices. While that connection is down the answer is
 * undefined, so tokens are checked against the database on every request; losing it and
 * getting it back both count as a revocation, since notices may have been missed between.
 *
 * The LISTEN connection opens on first use, so the admin CLI, which checks no tokens,
 * never opens one.
 */
export class TokenRevocations {
  private generation = 0;
  private listener: pg.Client | null = null;
  private connecting = false;
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly url: string) {}

  current(): number | undefined {
    if (this.listener) return this.generation;
    if (!this.connecting && !this.closed && this.retryTimer === undefined) void this.listen();
    return undefined;
  }

  /** A revocation made through this process: counted at once, without waiting for its notice. */
  bump(): void {
    this.generation++;
  }

  private async listen(): Promise<void> {
    this.connecting = true;
    const client = new pg.Client({ connectionString: this.url, application_name: 'axon-tokens' });
    client.on('notification', () => { this.generation++; });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.generation++;
      this.listener = client;
    } catch {
      client.end().catch(() => {});
      this.retryTimer = setTimeout(() => { this.retryTimer = undefined; }, RETRY_MS);
      this.retryTimer.unref?.();
    } finally {
      this.connecting = false;
    }
  }

  private lost(client: pg.Client): void {
    if (this.listener !== client) return;
    this.listener = null;
    this.generation++;
    client.end().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.listener;
    this.listener = null;
    await client?.end().catch(() => {});
  }
}
