export interface TypingEvent {
  readonly type: 'm.typing';
  readonly room_id: string;
  readonly content: { readonly user_ids: string[] };
}

export interface TypingStreamOptions {
  /** Called with each new position and the room it concerns. */
  readonly notify: (position: number, roomId: string) => void;
  /** Longest typing timeout accepted (ms). */
  readonly maxTimeoutMs?: number;
}

interface RoomTyping {
  readonly users: Map<string, ReturnType<typeof setTimeout>>;
  /** Position of the last change. */
  changed: number;
}

/**
 * Who is typing where. Ephemeral: kept in memory only, so positions restart at 0 with the
 * process, and tokens from before a restart are clamped to now like any future token.
 */
export class TypingStream {
  private pos = 0;
  private readonly rooms = new Map<string, RoomTyping>();
  private readonly notify: TypingStreamOptions['notify'];
  private readonly maxTimeoutMs: number;

  constructor(opts: TypingStreamOptions) {
    this.notify = opts.notify;
    this.maxTimeoutMs = opts.maxTimeoutMs ?? 120_000;
  }

  get position(): number {
    return this.pos;
  }

  /**
   * Starts (typing=true, for timeoutMs, then it expires by itself) or stops a user's
   * typing in a room. Returns the new position, or the current one when nothing changed.
   */
  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs = 30_000): number {
    let room = this.rooms.get(roomId);
    const timer = room?.users.get(userId);
    if (timer !== undefined) clearTimeout(timer);
    if (!typing) {
      if (timer === undefined || !room) return this.pos;
      room.users.delete(userId);
      return this.changed(roomId, room);
    }
    if (!room) this.rooms.set(roomId, (room = { users: new Map(), changed: 0 }));
    const t = setTimeout(() => this.setTyping(roomId, userId, false), Math.max(0, Math.min(timeoutMs, this.maxTimeoutMs)));
    t.unref?.();
    room.users.set(userId, t);
    // Renewing a typing notice changes nothing that clients see.
    return timer === undefined ? this.changed(roomId, room) : this.pos;
  }

  isTyping(roomId: string, userId: string): boolean {
    return this.rooms.get(roomId)?.users.has(userId) ?? false;
  }

  /** m.typing for each of the rooms that changed in (from, to]: its current list. */
  updatesFor(roomIds: Iterable<string>, from: number, to: number): TypingEvent[] {
    if (to <= from) return [];
    const out: Array<{ changed: number; ev: TypingEvent }> = [];
    for (const roomId of roomIds) {
      const room = this.rooms.get(roomId);
      if (room && room.changed > from && room.changed <= to) out.push({ changed: room.changed, ev: this.eventFor(roomId, room) });
    }
    return out.sort((a, b) => a.changed - b.changed).map((x) => x.ev);
  }

  /** m.typing for each of the rooms where someone is typing now. */
  snapshot(roomIds: Iterable<string>): TypingEvent[] {
    const out: TypingEvent[] = [];
    for (const roomId of roomIds) {
      const room = this.rooms.get(roomId);
      if (room && room.users.size > 0) out.push(this.eventFor(roomId, room));
    }
    return out;
  }

  /** Clears every expiry timer (shutdown). */
  stop(): void {
    for (const room of this.rooms.values()) for (const t of room.users.values()) clearTimeout(t);
    this.rooms.clear();
  }

  private changed(roomId: string, room: RoomTyping): number {
    room.changed = ++this.pos;
    if (room.users.size === 0) {
      // keep the entry so that the empty list is delivered; drop it once stale
      room.changed = this.pos;
    }
    this.notify(this.pos, roomId);
    return this.pos;
  }

  private eventFor(roomId: string, room: RoomTyping): TypingEvent {
    return { type: 'm.typing', room_id: roomId, content: { user_ids: [...room.users.keys()] } };
  }
}
