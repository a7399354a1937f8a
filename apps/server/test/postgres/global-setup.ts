import type { TestProject } from 'vitest/node';
import { availability, startCluster } from '../../../../tools/pg/cluster.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose role may CREATE DATABASE (one database per test server). */
    pgAdminUrl: string;
  }
}

/**
 * The PostgreSQL run's server: DATABASE_URL when given, else a throwaway cluster from
 * tools/pg that is stopped and deleted when the run ends (or dies).
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.DATABASE_URL) {
    project.provide('pgAdminUrl', process.env.DATABASE_URL);
    return undefined;
  }
  const a = availability();
  if (!a.ok) throw new Error(`the PostgreSQL suite cannot run: ${a.reason}. ${a.howTo}`);
  const cluster = await startCluster({ log: (m) => process.stderr.write(`${m}\n`) });
  project.provide('pgAdminUrl', cluster.adminUrl);
  return () => cluster.stop();
}
