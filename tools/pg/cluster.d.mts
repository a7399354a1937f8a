export interface Availability {
  ok: boolean;
  /** 'DATABASE_URL' or the directory of the PostgreSQL binaries. */
  source?: string;
  reason?: string;
  howTo: string;
}
export interface Cluster {
  dir: string;
  port: number;
  /** The fresh `axon` database. */
  url: string;
  /** The `postgres` database, for CREATE/DROP DATABASE. */
  adminUrl: string;
  stop(): Promise<void>;
  stopSync(): void;
}
export function findPgBin(): string | null;
export function availability(): Availability;
/** `durable`: PostgreSQL's default durability (fsync, synchronous_commit, full page writes on); off unless set. */
export function startCluster(options?: { database?: string; log?: (message: string) => void; durable?: boolean }): Promise<Cluster>;
