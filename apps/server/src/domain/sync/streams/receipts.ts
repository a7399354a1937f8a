import type { ReceiptRecord, StreamStore } from '../../../storage/streams.js';

export interface ReceiptEvent {
  readonly type: 'm.receipt';
  readonly room_id: string;
  /** event id -> receipt type -> user id -> {ts} */
  readonly content: Record<string, Record<string, Record<string, { ts: number }>>>;
}

/** Groups receipt rows into one m.receipt event per room, rooms in order of first row. */
export function receiptEvents(rows: readonly ReceiptRecord[]): ReceiptEvent[] {
  const byRoom = new Map<string, ReceiptEvent>();
  for (const r of rows) {
    let ev = byRoom.get(r.roomId);
    if (!ev) byRoom.set(r.roomId, (ev = { type: 'm.receipt', room_id: r.roomId, content: {} }));
    const forEvent = (ev.content[r.eventId] ??= {});
    const forType = (forEvent[r.receiptType] ??= {});
    forType[r.userId] = { ts: r.ts };
  }
  return [...byRoom.values()];
}

export interface ReceiptStreamOptions {
  readonly store: StreamStore;
  readonly notify: (position: number, roomId: string) => void;
  readonly now?: () => number;
}

/** Read receipts: the latest receipt of each type per user and room, stored. */
export class ReceiptStream {
  private pos: number;
  constructor(private readonly opts: ReceiptStreamOptions, initialPosition: number) {
    this.pos = initialPosition;
  }

  get position(): number {
    return this.pos;
  }

  /** Stores the receipt and wakes the room's members; returns its position. */
  async addReceipt(roomId: string, userId: string, eventId: string, receiptType = 'm.read', ts = (this.opts.now ?? Date.now)()): Promise<number> {
    const pos = await this.opts.store.putReceipt({ roomId, userId, eventId, receiptType, ts });
    this.pos = Math.max(this.pos, pos);
    this.opts.notify(pos, roomId);
    return pos;
  }

  /** m.receipt events of the receipts that changed in (from, to] in these rooms. */
  async updatesFor(roomIds: readonly string[], from: number, to: number): Promise<{ events: ReceiptEvent[]; rows: ReceiptRecord[] }> {
    const rows = await this.opts.store.receiptsInRange(roomIds, from, to);
    return { events: receiptEvents(rows), rows };
  }

  /** The current receipts of these rooms, as of `upTo`. */
  async snapshot(roomIds: readonly string[], upTo = this.pos): Promise<ReceiptEvent[]> {
    return receiptEvents(await this.opts.store.receiptsOfRooms(roomIds, upTo));
  }
}
