import { it } from 'vitest';
import { availability } from '../../../../tools/pg/cluster.mjs';

// Included instead of the suite when AXON_TEST_POSTGRES=auto finds no PostgreSQL.
const a = availability();
const banner = `
************************************************************************
*  The PostgreSQL suite DID NOT RUN: ${a.reason ?? 'PostgreSQL unavailable'}.
*  ${a.howTo}
************************************************************************
`;
process.stderr.write(banner);

it.skip(`PostgreSQL suite did not run (${a.reason ?? 'unavailable'}); ${a.howTo}`, () => {});
