import type { Membership } from '../events/types.js';

export interface IndexedMembership {
  readonly membership: Membership;
  /** stream_ordering of the membership event. */
  readonly stream: number;
}

/**
 * Every room membership of the server in memory: user -> room -> membership, and room ->
 * joined users. Loaded once at start and kept exact from the persisted events (the one
 * writer hands each of them to the sync layer), so the notifier's room index and "who
 * shares a room with whom" cost no SQL.
 */
export class MembershipIndex {
  private readonly byUser = new Map<string, Map<string, IndexedMembership>>();
  private readonly joined = new Map<string, Set<string>>();

  /** Records a membership unless a newer one is already known; true if it changed. */
  apply(roomId: string, userId: string, membership: Membership, stream: number): boolean {
    let rooms = this.byUser.get(userId);
    if (!rooms) this.byUser.set(userId, (rooms = new Map()));
    const prev = rooms.get(roomId);
    if (prev && prev.stream >= stream) return false;
    rooms.set(roomId, { membership, stream });
    let members = this.joined.get(roomId);
    if (membership === 'join') {
      if (!members) this.joined.set(roomId, (members = new Set()));
      members.add(userId);
    } else if (members) {
      members.delete(userId);
      if (members.size === 0) this.joined.delete(roomId);
    }
    return true;
  }

  /** The user's membership in each room they have one in. */
  roomsOf(userId: string): ReadonlyMap<string, IndexedMembership> {
    return this.byUser.get(userId) ?? new Map();
  }

  membershipOf(userId: string, roomId: string): IndexedMembership | undefined {
    return this.byUser.get(userId)?.get(roomId);
  }

  joinedRooms(userId: string): string[] {
    const out: string[] = [];
    for (const [roomId, m] of this.roomsOf(userId)) if (m.membership === 'join') out.push(roomId);
    return out;
  }

  /** Rooms whose events concern the user as they happen: joined and invited. */
  notifyRooms(userId: string): string[] {
    const out: string[] = [];
    for (const [roomId, m] of this.roomsOf(userId)) if (m.membership === 'join' || m.membership === 'invite') out.push(roomId);
    return out;
  }

  joinedMembers(roomId: string): ReadonlySet<string> {
    return this.joined.get(roomId) ?? new Set();
  }

  /** The user and everyone joined to a room the user is joined to. */
  usersSharingRoomWith(userId: string): Set<string> {
    const out = new Set<string>([userId]);
    for (const roomId of this.joinedRooms(userId)) for (const u of this.joinedMembers(roomId)) out.add(u);
    return out;
  }
}
