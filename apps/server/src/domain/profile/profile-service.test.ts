import { describe, expect, it } from 'vitest';
import type { Logger } from '../../logging.js';
import type { Storage } from '../../storage/storage.js';
import type { RoomService } from '../rooms/room-service.js';
import { ProfileService } from './profile-service.js';

/** A logger that records its warn lines; the rest of pino's surface is not used here. */
function recordingLogger(): { logger: Logger; warnings: unknown[][] } {
  const warnings: unknown[][] = [];
  return { logger: { warn: (...args: unknown[]) => { warnings.push(args); } } as unknown as Logger, warnings };
}

/** A user joined to one room, whose room service refuses the new join event. */
function service(serviceLogger: Logger): ProfileService {
  const storage = {
    getUser: async () => ({ displayname: 'Old', avatarUrl: null, deactivated: false }),
    setDisplayname: async () => true,
    events: { getMemberships: async () => [{ roomId: '!r:hs', membership: 'join' }] },
  } as unknown as Storage;
  const rooms = { send: async () => { throw new Error('refused'); } } as unknown as RoomService;
  return new ProfileService(storage, rooms, serviceLogger);
}

describe('ProfileService', () => {
  it("logs a room that refuses the new profile through the request's logger, when the actor brings one", async () => {
    const own = recordingLogger();
    const request = recordingLogger();
    await service(own.logger).setDisplayname({ userId: '@a:hs', tokenHash: 'h', logs: { log: request.logger } }, '@a:hs', 'New');
    expect(request.warnings).toHaveLength(1);
    expect(request.warnings[0]![1]).toBe('could not update membership with new profile');
    expect(own.warnings).toHaveLength(0);
  });

  it('logs through its own logger otherwise', async () => {
    const own = recordingLogger();
    await service(own.logger).setDisplayname({ userId: '@a:hs', tokenHash: 'h' }, '@a:hs', 'New');
    expect(own.warnings).toHaveLength(1);
  });
});
