import type { Router } from 'express';

/**
 * The only routes outside spec/: operators' endpoints. The routing test allows exactly
 * these besides the spec's operations. (CORS preflight `OPTIONS` is answered for every
 * path by the cors middleware.)
 */
export const OPERATIONAL_ROUTES = [{ method: 'get', path: '/health' }] as const;

export function mountOperationalRoutes(router: Router): void {
  // Load balancers poll this; it is not logged (see the request log middleware).
  router.get('/health', (_req, res) => {
    res.type('text/plain').send('OK');
  });
}
