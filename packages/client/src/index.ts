import createFetchClient, { type Client } from 'openapi-fetch';
import type { paths } from '@axon/contract';

export type { paths };

/** A typed client for every API in the spec; `baseUrl` is the server's root. */
export function createRawClient(baseUrl: string): Client<paths> {
  return createFetchClient<paths>({ baseUrl });
}
