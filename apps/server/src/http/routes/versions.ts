import type { HandlerMap } from '../handler.js';

export const versionsHandlers: HandlerMap = {
  getVersions: async () => ({ status: 200, body: { versions: ['r0.0.1'] } }),
};
