import type pg from 'pg';
import type { JsonObject } from '../../domain/events/types.js';
import type { AccountDataRecord, PresenceRecord, ReceiptRecord, StreamStore } from '../streams.js';
import { STREAM_LOCKS } from './pg-db.js';
import { accountDataFromRow, presenceFromRow, receiptFromRow, type AccountDataRow, type PresenceRow, type ReceiptRow } from '../stream-rows.js';

/**
 * Receipts, account data and presence on PostgreSQL. Each stream's writers, in every
 * process, take that stream's advisory lock, allocate max + 1 and commit before the lock
 * is released: positions commit in order, so max(stream_id) is a persisted-up-to position.
 */
export class PgStreamStore implements StreamStore {
  constructor(private readonly pool: pg.Pool) {}

  private async max(table: string): Promise<number> {
    return (await this.pool.query<{ m: number | null }>(`SELECT max(stream_id) AS m FROM ${table}`)).rows[0]?.m ?? 0;
  }

  /** Runs an upsert whose last parameter is the new position, under the stream's lock. */
  private async put(lock: number, table: string, sql: string, params: unknown[]): Promise<number> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${lock})`);
      const pos = (await client.query<{ m: number | null }>(`SELECT max(stream_id) AS m FROM ${table}`)).rows[0]?.m ?? 0;
      await client.query(sql, [...params, pos + 1]);
      await client.query('COMMIT');
      return pos + 1;
    } catch (err) {
      try { await client.query('ROLLBACK'); } catch { broken = true; }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  maxReceiptStream(): Promise<number> { return this.max('receipts'); }
  maxAccountDataStream(): Promise<number> { return this.max('account_data'); }
  maxPresenceStream(): Promise<number> { return this.max('presence'); }

  putReceipt(r: Omit<ReceiptRecord, 'streamId'>): Promise<number> {
    return this.put(STREAM_LOCKS.receipts, 'receipts', `INSERT INTO receipts (room_id, receipt_type, user_id, event_id, ts, stream_id)
      VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (room_id, receipt_type, user_id)
      DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, stream_id = excluded.stream_id`,
    [r.roomId, r.receiptType, r.userId, r.eventId, r.ts]);
  }

  async receiptsInRange(roomIds: readonly string[], from: number, to: number): Promise<ReceiptRecord[]> {
    if (roomIds.length === 0 || to <= from) return [];
    return (await this.pool.query<ReceiptRow>(`SELECT * FROM receipts WHERE room_id = ANY($1::text[]) AND stream_id > $2 AND stream_id <= $3
      ORDER BY stream_id`, [roomIds, from, to])).rows.map(receiptFromRow);
  }

  async receiptsOfRooms(roomIds: readonly string[], upTo: number): Promise<ReceiptRecord[]> {
    if (roomIds.length === 0) return [];
    return (await this.pool.query<ReceiptRow>(`SELECT * FROM receipts WHERE room_id = ANY($1::text[]) AND stream_id <= $2
      ORDER BY stream_id`, [roomIds, upTo])).rows.map(receiptFromRow);
  }

  putAccountData(userId: string, roomId: string | null, type: string, content: JsonObject): Promise<number> {
    return this.put(STREAM_LOCKS.accountData, 'account_data', `INSERT INTO account_data (user_id, room_id, type, content, stream_id)
      VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, stream_id = excluded.stream_id`,
    [userId, roomId ?? '', type, JSON.stringify(content)]);
  }

  async getAccountData(userId: string, roomId: string | null, type: string): Promise<AccountDataRecord | null> {
    const row = (await this.pool.query<AccountDataRow>('SELECT * FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3',
      [userId, roomId ?? '', type])).rows[0];
    return row ? accountDataFromRow(row) : null;
  }

  async accountDataInRange(userId: string, from: number, to: number): Promise<AccountDataRecord[]> {
    if (to <= from) return [];
    return (await this.pool.query<AccountDataRow>('SELECT * FROM account_data WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id',
      [userId, from, to])).rows.map(accountDataFromRow);
  }

  async accountDataOf(userId: string, upTo: number): Promise<AccountDataRecord[]> {
    return (await this.pool.query<AccountDataRow>('SELECT * FROM account_data WHERE user_id = $1 AND stream_id <= $2 ORDER BY stream_id',
      [userId, upTo])).rows.map(accountDataFromRow);
  }

  putPresence(p: Omit<PresenceRecord, 'streamId'>): Promise<number> {
    return this.put(STREAM_LOCKS.presence, 'presence', `INSERT INTO presence (user_id, presence, status_msg, last_active_ts, stream_id)
      VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg,
      last_active_ts = excluded.last_active_ts, stream_id = excluded.stream_id`,
    [p.userId, p.presence, p.statusMsg, p.lastActiveTs]);
  }

  async presenceInRange(from: number, to: number): Promise<PresenceRecord[]> {
    if (to <= from) return [];
    return (await this.pool.query<PresenceRow>('SELECT * FROM presence WHERE stream_id > $1 AND stream_id <= $2 ORDER BY stream_id',
      [from, to])).rows.map(presenceFromRow);
  }

  async presenceOf(userIds: readonly string[]): Promise<PresenceRecord[]> {
    if (userIds.length === 0) return [];
    return (await this.pool.query<PresenceRow>('SELECT * FROM presence WHERE user_id = ANY($1::text[])', [userIds])).rows.map(presenceFromRow);
  }

  async presenceNotOffline(): Promise<PresenceRecord[]> {
    return (await this.pool.query<PresenceRow>("SELECT * FROM presence WHERE presence <> 'offline'")).rows.map(presenceFromRow);
  }
}
