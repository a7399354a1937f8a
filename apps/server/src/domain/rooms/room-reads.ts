import { errors } from '../../errors.js';
import type { EventStore } from '../../storage/events.js';
import type { RoomState } from './room-state.js';

/**
 * Which state a user may read: members read the current state; those who left or were
 * banned read the state as it was when they left; anyone reads a world_readable room.
 */
export class RoomReads {
  constructor(private readonly store: EventStore) {}

  async visibleState(userId: string, roomId: string): Promise<RoomState> {
    if (!(await this.store.roomExists(roomId))) throw errors.notFound(`Unknown room ${roomId}`);
    const membership = await this.store.getMembership(roomId, userId);
    if (membership?.membership === 'join') return this.store.getCurrentState(roomId);
    if (membership && (membership.membership === 'leave' || membership.membership === 'ban')) {
      return this.store.getStateAt(roomId, membership.streamOrdering);
    }
    const current = await this.store.getCurrentState(roomId);
    if (current.size > 0 && current.historyVisibility() === 'world_readable') return current;
    throw errors.forbidden(`User ${userId} not in room ${roomId}, and room previews are disabled`);
  }
}
