import type Database from 'better-sqlite3';
import type { MediaRecord, MediaStore } from '../media.js';

interface MediaRow {
  media_id: string;
  media_type: string;
  upload_name: string | null;
  media_length: number;
  created_ts: number;
  user_id: string;
}

export class SqliteMediaStore implements MediaStore {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      insert: db.prepare(`INSERT INTO local_media (media_id, media_type, upload_name, media_length, created_ts, user_id)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (media_id) DO NOTHING`),
      get: db.prepare('SELECT * FROM local_media WHERE media_id = ?'),
    };
  }

  async insertMedia(r: MediaRecord): Promise<boolean> {
    return this.stmts.insert.run(r.mediaId, r.mediaType, r.uploadName, r.mediaLength, r.createdTs, r.userId).changes === 1;
  }

  async getMedia(mediaId: string): Promise<MediaRecord | null> {
    const row = this.stmts.get.get(mediaId) as MediaRow | undefined;
    if (!row) return null;
    return {
      mediaId: row.media_id, mediaType: row.media_type, uploadName: row.upload_name,
      mediaLength: row.media_length, createdTs: row.created_ts, userId: row.user_id,
    };
  }
}
