import type { JsonObject } from '../../events/types.js';
import type { AccountDataRecord, StreamStore } from '../../../storage/streams.js';

export interface AccountDataEvent {
  readonly type: string;
  readonly content: JsonObject;
  /** Present on per-room data in /events (Synapse's shape); absent in initialSync rooms[]. */
  readonly room_id?: string;
}

export const TAG_TYPE = 'm.tag';

/**
 * Synapse's order in /events: m.tag (with room_id), then global data (no room_id), then
 * the other room data (with room_id).
 */
export function accountDataStreamEvents(rows: readonly AccountDataRecord[]): AccountDataEvent[] {
  const tags: AccountDataEvent[] = [];
  const global: AccountDataEvent[] = [];
  const room: AccountDataEvent[] = [];
  for (const r of rows) {
    if (r.roomId === null) global.push({ type: r.type, content: r.content });
    else (r.type === TAG_TYPE ? tags : room).push({ type: r.type, content: r.content, room_id: r.roomId });
  }
  return [...tags, ...global, ...room];
}

export interface AccountDataSnapshot {
  readonly global: AccountDataEvent[];
  /** Per room: m.tag first (if any tags), then the rest; no room_id. */
  readonly rooms: Map<string, AccountDataEvent[]>;
}

export interface AccountDataStreamOptions {
  readonly store: StreamStore;
  readonly notify: (position: number, userId: string) => void;
}

/**
 * Global and per-room account data, the latest content per (user, room, type). Room tags
 * are room account data of type m.tag whose content is `{tags: {tag: {order?}}}`.
 */
export class AccountDataStream {
  private pos: number;
  constructor(private readonly opts: AccountDataStreamOptions, initialPosition: number) {
    this.pos = initialPosition;
  }

  get position(): number {
    return this.pos;
  }

  /** Stores the content (replacing the previous one) and wakes the user; returns its position. */
  async put(userId: string, roomId: string | null, type: string, content: JsonObject): Promise<number> {
    const pos = await this.opts.store.putAccountData(userId, roomId, type, content);
    this.pos = Math.max(this.pos, pos);
    this.opts.notify(pos, userId);
    return pos;
  }

  async get(userId: string, roomId: string | null, type: string): Promise<JsonObject | null> {
    return (await this.opts.store.getAccountData(userId, roomId, type))?.content ?? null;
  }

  /** The room's tags: tag name -> {order?}. */
  async getTags(userId: string, roomId: string): Promise<Record<string, JsonObject>> {
    const content = await this.get(userId, roomId, TAG_TYPE);
    const tags = content?.['tags'];
    return tags && typeof tags === 'object' ? { ...(tags as Record<string, JsonObject>) } : {};
  }

  async setTag(userId: string, roomId: string, tag: string, content: JsonObject): Promise<number> {
    const tags = await this.getTags(userId, roomId);
    tags[tag] = content;
    return this.put(userId, roomId, TAG_TYPE, { tags });
  }

  /** Removes a tag; still advances the stream (as Synapse does) so clients see the change. */
  async deleteTag(userId: string, roomId: string, tag: string): Promise<number> {
    const tags = await this.getTags(userId, roomId);
    delete tags[tag];
    return this.put(userId, roomId, TAG_TYPE, { tags });
  }

  /** The user's account data that changed in (from, to], in Synapse's order. */
  async updatesFor(userId: string, from: number, to: number): Promise<{ events: AccountDataEvent[]; rows: AccountDataRecord[] }> {
    const rows = await this.opts.store.accountDataInRange(userId, from, to);
    return { events: accountDataStreamEvents(rows), rows };
  }

  async snapshot(userId: string, upTo = this.pos): Promise<AccountDataSnapshot> {
    const global: AccountDataEvent[] = [];
    const rooms = new Map<string, AccountDataEvent[]>();
    for (const r of await this.opts.store.accountDataOf(userId, upTo)) {
      if (r.roomId === null) {
        global.push({ type: r.type, content: r.content });
        continue;
      }
      let list = rooms.get(r.roomId);
      if (!list) rooms.set(r.roomId, (list = []));
      if (r.type === TAG_TYPE) {
        const tags = r.content['tags'];
        if (tags && typeof tags === 'object' && Object.keys(tags).length > 0) list.unshift({ type: r.type, content: r.content });
      } else list.push({ type: r.type, content: r.content });
    }
    return { global, rooms };
  }
}
