import type Database from 'better-sqlite3';
import type { JsonObject } from '../../domain/events/types.js';
import type { AccountDataRecord, PresenceRecord, ReceiptRecord, StreamStore } from '../streams.js';
import { accountDataFromRow, presenceFromRow, receiptFromRow, type AccountDataRow, type PresenceRow } from '../stream-rows.js';

/** SQLite caps bound parameters: IN lists are split into chunks of this many. */
const IN_CHUNK = 500;

/**
 * Receipts, account data and presence on SQLite. One connection, synchronous statements:
 * a position is handed out only once its row is committed, so every position returned is
 * a persisted-up-to position.
 */
export class SqliteStreamStore implements StreamStore {
  private readonly s;
  private receiptPos: number;
  private accountDataPos: number;
  private presencePos: number;

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      maxReceipt: p('SELECT max(stream_id) AS m FROM receipts'),
      maxAccountData: p('SELECT max(stream_id) AS m FROM account_data'),
      maxPresence: p('SELECT max(stream_id) AS m FROM presence'),
      putReceipt: p(`INSERT INTO receipts (room_id, receipt_type, user_id, event_id, ts, stream_id) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (room_id, receipt_type, user_id) DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, stream_id = excluded.stream_id`),
      putAccountData: p(`INSERT INTO account_data (user_id, room_id, type, content, stream_id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id`),
      getAccountData: p('SELECT * FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?'),
      accountDataRange: p('SELECT * FROM account_data WHERE user_id = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id'),
      accountDataOf: p('SELECT * FROM account_data WHERE user_id = ? AND stream_id <= ? ORDER BY stream_id'),
      putPresence: p(`INSERT INTO presence (user_id, presence, status_msg, last_active_ts, stream_id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg,
        last_active_ts = excluded.last_active_ts, stream_id = excluded.stream_id`),
      presenceRange: p('SELECT * FROM presence WHERE stream_id > ? AND stream_id <= ? ORDER BY stream_id'),
      presenceNotOffline: p("SELECT * FROM presence WHERE presence != 'offline'"),
    };
    const max = (stmt: Database.Statement): number => (stmt.get() as { m: number | null }).m ?? 0;
    this.receiptPos = max(this.s.maxReceipt);
    this.accountDataPos = max(this.s.maxAccountData);
    this.presencePos = max(this.s.maxPresence);
  }

  async maxReceiptStream(): Promise<number> { return this.receiptPos; }
  async maxAccountDataStream(): Promise<number> { return this.accountDataPos; }
  async maxPresenceStream(): Promise<number> { return this.presencePos; }

  async putReceipt(r: Omit<ReceiptRecord, 'streamId'>): Promise<number> {
    const pos = this.receiptPos + 1;
    this.s.putReceipt.run(r.roomId, r.receiptType, r.userId, r.eventId, r.ts, pos);
    return (this.receiptPos = pos);
  }

  private inRooms<T>(roomIds: readonly string[], where: string, args: unknown[], map: (row: never) => T): T[] {
    const out: T[] = [];
    for (let i = 0; i < roomIds.length; i += IN_CHUNK) {
      const chunk = roomIds.slice(i, i + IN_CHUNK);
      const sql = `SELECT * FROM receipts WHERE room_id IN (${chunk.map(() => '?').join(',')}) AND ${where} ORDER BY stream_id`;
      for (const row of this.db.prepare(sql).all(...chunk, ...args)) out.push(map(row as never));
    }
    return out;
  }

  async receiptsInRange(roomIds: readonly string[], from: number, to: number): Promise<ReceiptRecord[]> {
    if (roomIds.length === 0 || to <= from) return [];
    const rows = this.inRooms(roomIds, 'stream_id > ? AND stream_id <= ?', [from, to], receiptFromRow);
    return rows.sort((a, b) => a.streamId - b.streamId);
  }

  async receiptsOfRooms(roomIds: readonly string[], upTo: number): Promise<ReceiptRecord[]> {
    if (roomIds.length === 0) return [];
    return this.inRooms(roomIds, 'stream_id <= ?', [upTo], receiptFromRow);
  }

  async putAccountData(userId: string, roomId: string | null, type: string, content: JsonObject): Promise<number> {
    const pos = this.accountDataPos + 1;
    this.s.putAccountData.run(userId, roomId ?? '', type, JSON.stringify(content), pos);
    return (this.accountDataPos = pos);
  }

  async getAccountData(userId: string, roomId: string | null, type: string): Promise<AccountDataRecord | null> {
    const row = this.s.getAccountData.get(userId, roomId ?? '', type) as AccountDataRow | undefined;
    return row ? accountDataFromRow(row) : null;
  }

  async accountDataInRange(userId: string, from: number, to: number): Promise<AccountDataRecord[]> {
    if (to <= from) return [];
    return (this.s.accountDataRange.all(userId, from, to) as AccountDataRow[]).map(accountDataFromRow);
  }

  async accountDataOf(userId: string, upTo: number): Promise<AccountDataRecord[]> {
    return (this.s.accountDataOf.all(userId, upTo) as AccountDataRow[]).map(accountDataFromRow);
  }

  async putPresence(p: Omit<PresenceRecord, 'streamId'>): Promise<number> {
    const pos = this.presencePos + 1;
    this.s.putPresence.run(p.userId, p.presence, p.statusMsg, p.lastActiveTs, pos);
    return (this.presencePos = pos);
  }

  async presenceInRange(from: number, to: number): Promise<PresenceRecord[]> {
    if (to <= from) return [];
    return (this.s.presenceRange.all(from, to) as PresenceRow[]).map(presenceFromRow);
  }

  async presenceOf(userIds: readonly string[]): Promise<PresenceRecord[]> {
    const out: PresenceRecord[] = [];
    for (let i = 0; i < userIds.length; i += IN_CHUNK) {
      const chunk = userIds.slice(i, i + IN_CHUNK);
      const sql = `SELECT * FROM presence WHERE user_id IN (${chunk.map(() => '?').join(',')})`;
      out.push(...(this.db.prepare(sql).all(...chunk) as PresenceRow[]).map(presenceFromRow));
    }
    return out;
  }

  async presenceNotOffline(): Promise<PresenceRecord[]> {
    return (this.s.presenceNotOffline.all() as PresenceRow[]).map(presenceFromRow);
  }
}
