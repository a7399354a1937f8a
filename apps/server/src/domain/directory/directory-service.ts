import type { operations } from '@axon/contract';
import { errors, MatrixError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { Storage } from '../../storage/storage.js';
import { levelToSend } from '../rooms/power-levels.js';
import type { Actor, RoomService } from '../rooms/room-service.js';

const MAX_ALIAS_LENGTH = 255;

/** `#localpart:server`: a non-empty localpart without whitespace, ':' or '#', and a server name. */
export function parseRoomAlias(alias: string): { localpart: string; server: string } | null {
  if (alias.length > MAX_ALIAS_LENGTH || !alias.startsWith('#')) return null;
  const colon = alias.indexOf(':');
  if (colon < 2) return null;
  const localpart = alias.slice(1, colon);
  const server = alias.slice(colon + 1);
  if (/[\s:#]/.test(localpart) || !/^[A-Za-z0-9.\-[\]:]+$/.test(server)) return null;
  return { localpart, server };
}

/** The spec's answer of GET /publicRooms, and one room of it. */
export type PublicRooms = operations['getPublicRooms']['responses'][200]['content']['application/json'];
export type PublicRoom = PublicRooms['chunk'][number];


/**
 * Room aliases on this server and the public room list. The `rooms.is_public` flag, set
 * by createRoom's `visibility`, is the room's directory visibility everywhere.
 */
export class DirectoryService {
  constructor(
    private readonly serverName: string,
    private readonly storage: Storage,
    private readonly rooms: RoomService,
    private readonly logger: Logger,
  ) {}

  private checkAlias(alias: string): void {
    if (!parseRoomAlias(alias)) throw errors.invalidParam(`Invalid room alias ${JSON.stringify(alias)}`);
  }

  async resolve(alias: string): Promise<{ room_id: string; servers: string[] }> {
    this.checkAlias(alias);
    const found = await this.storage.events.getAlias(alias);
    if (!found) throw errors.notFound(`Room alias ${alias} not found`);
    return { room_id: found.roomId, servers: [this.serverName] };
  }

  /** Synapse's rules: a local alias, a known room the caller is joined to, not taken yet (409). */
  async create(actor: Actor, alias: string, roomId: string): Promise<void> {
    const parsed = parseRoomAlias(alias);
    if (!parsed) throw errors.invalidParam(`Invalid room alias ${JSON.stringify(alias)}`);
    if (parsed.server !== this.serverName) throw errors.invalidParam('Room alias must be local');
    if (!(await this.storage.events.roomExists(roomId))) throw errors.notFound(`Unknown room ${roomId}`);
    const membership = await this.storage.events.getMembership(roomId, actor.userId);
    if (membership?.membership !== 'join') throw errors.forbidden(`User ${actor.userId} not in room ${roomId}`);
    if (!(await this.storage.events.createAlias(alias, roomId, actor.userId))) {
      throw new MatrixError(409, 'M_UNKNOWN', `Room alias ${alias} already exists`);
    }
    await this.sendAliasesEvent(actor, roomId);
  }

  /**
   * The alias's creator, a server administrator, or whoever may set the room's
   * m.room.canonical_alias (Synapse's _user_can_delete_alias) may delete it.
   */
  async delete(actor: Actor, alias: string): Promise<void> {
    this.checkAlias(alias);
    const found = await this.storage.events.getAlias(alias);
    if (!found) throw errors.notFound(`Room alias ${alias} not found`);
    if (!(await this.mayDelete(actor.userId, found))) throw errors.forbidden('You don\'t have permission to delete the alias.');
    await this.storage.events.deleteAlias(alias);
    await this.sendAliasesEvent(actor, found.roomId);
  }

  private async mayDelete(userId: string, alias: { roomId: string; creator: string }): Promise<boolean> {
    if (alias.creator === userId) return true;
    if ((await this.storage.getUser(userId))?.admin === true) return true;
    const state = await this.storage.events.getCurrentState(alias.roomId);
    if (state.membershipOf(userId) !== 'join') return false;
    return state.powerLevelOf(userId) >= levelToSend(state.powerLevels(), 'm.room.canonical_alias', true);
  }

  /**
   * Keeps the room's m.room.aliases (state key: this server) equal to the alias table, as
   * Synapse did in 2015. Best effort: a caller who may not send it leaves it stale.
   */
  private async sendAliasesEvent(actor: Actor, roomId: string): Promise<void> {
    try {
      const aliases = (await this.storage.events.aliasesForRoom(roomId)).sort();
      await this.rooms.send(actor, roomId, 'm.room.aliases', { aliases }, { stateKey: this.serverName });
    } catch (err) {
      (actor.logs?.log ?? this.logger).info({ err, roomId }, 'could not update m.room.aliases');
    }
  }

  /** Every room with is_public, most joined members first (as Synapse sorts them). */
  async publicRooms(): Promise<PublicRooms> {
    const chunk: PublicRoom[] = [];
    for (const room of await this.storage.events.publicRooms()) {
      const state = await this.storage.events.getCurrentState(room.roomId);
      if (state.size === 0) continue;
      const str = (type: string, key: string): string | undefined => {
        const v = state.content(type)?.[key];
        return typeof v === 'string' && v !== '' ? v : undefined;
      };
      const aliases = (await this.storage.events.aliasesForRoom(room.roomId)).sort();
      const entry: PublicRoom = {
        room_id: room.roomId,
        num_joined_members: state.members('join').length,
        world_readable: state.historyVisibility() === 'world_readable',
        guest_can_join: state.guestAccess() === 'can_join',
      };
      if (aliases.length > 0) entry.aliases = aliases;
      const canonical = str('m.room.canonical_alias', 'alias');
      if (canonical !== undefined) entry.canonical_alias = canonical;
      const name = str('m.room.name', 'name');
      if (name !== undefined) entry.name = name;
      const topic = str('m.room.topic', 'topic');
      if (topic !== undefined) entry.topic = topic;
      const avatar = str('m.room.avatar', 'url');
      if (avatar !== undefined) entry.avatar_url = avatar;
      chunk.push(entry);
    }
    chunk.sort((a, b) => b.num_joined_members - a.num_joined_members || a.room_id.localeCompare(b.room_id));
    // Synapse's v1 list was never paginated; its tokens were these fixed strings.
    return { start: 'START', end: 'END', chunk };
  }
}
