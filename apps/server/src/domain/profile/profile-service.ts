import { errors, MatrixError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { Storage } from '../../storage/storage.js';
import type { JsonObject } from '../events/types.js';
import type { Actor, RoomService } from '../rooms/room-service.js';

/** Synapse's limits (synapse/handlers/profile.py). */
export const MAX_DISPLAYNAME_LEN = 256;
export const MAX_AVATAR_URL_LEN = 1000;

export interface UserProfile {
  displayname?: string;
  avatar_url?: string;
}

type Field = 'displayname' | 'avatar_url';

/**
 * Display names and avatars. A change is stored on the user and then, as Synapse does,
 * written as a new m.room.member join event (through the room service and its auth rules)
 * into every room the user is joined to.
 */
export class ProfileService {
  constructor(
    private readonly storage: Storage,
    private readonly rooms: RoomService,
    private readonly logger: Logger,
  ) {}

  /** The profile of a local user; 404 M_NOT_FOUND for unknown users (Axon does not federate). */
  async get(userId: string): Promise<UserProfile> {
    const user = await this.storage.getUser(userId);
    if (!user || user.deactivated) throw errors.notFound('Profile was not found');
    return {
      ...(user.displayname !== null ? { displayname: user.displayname } : {}),
      ...(user.avatarUrl !== null ? { avatar_url: user.avatarUrl } : {}),
    };
  }

  async setDisplayname(actor: Actor, userId: string, value: unknown): Promise<void> {
    await this.set(actor, userId, 'displayname', value);
  }

  async setAvatarUrl(actor: Actor, userId: string, value: unknown): Promise<void> {
    await this.set(actor, userId, 'avatar_url', value);
  }

  private async set(actor: Actor, userId: string, field: Field, value: unknown): Promise<void> {
    if (userId !== actor.userId) {
      throw errors.forbidden(field === 'displayname' ? "Cannot set another user's displayname" : "Cannot set another user's avatar_url");
    }
    if (typeof value !== 'string') throw errors.badJson(`${field} must be a string`);
    const max = field === 'displayname' ? MAX_DISPLAYNAME_LEN : MAX_AVATAR_URL_LEN;
    if (value.length > max) throw new MatrixError(400, 'M_BAD_JSON', `${field} is too long (max ${max})`);
    // As in Synapse, an empty string removes the field.
    const stored = value === '' ? null : value;
    const ok = field === 'displayname'
      ? await this.storage.setDisplayname(userId, stored)
      : await this.storage.setAvatarUrl(userId, stored);
    if (!ok) throw errors.notFound('Profile was not found');
    await this.updateJoinEvents(actor);
  }

  /**
   * One new join event per joined room, its content built from the stored profile as
   * Synapse builds it; a room that refuses it is logged and skipped, as in Synapse.
   */
  private async updateJoinEvents(actor: Actor): Promise<void> {
    const profile = await this.get(actor.userId);
    const content: JsonObject = { membership: 'join', ...profile };
    const memberships = await this.storage.events.getMemberships(actor.userId);
    for (const m of memberships) {
      if (m.membership !== 'join') continue;
      try {
        await this.rooms.send(actor, m.roomId, 'm.room.member', content, { stateKey: actor.userId });
      } catch (err) {
        (actor.logs?.log ?? this.logger).warn({ err, roomId: m.roomId, userId: actor.userId }, 'could not update membership with new profile');
      }
    }
  }
}
