import type pg from 'pg';
import type { MediaRecord, MediaStore } from '../media.js';

interface MediaRow {
  media_id: string;
  media_type: string;
  upload_name: string | null;
  media_length: number;
  created_ts: number;
  user_id: string;
}

export class PgMediaStore implements MediaStore {
  constructor(private readonly pool: pg.Pool) {}

  async insertMedia(r: MediaRecord): Promise<boolean> {
    const res = await this.pool.query(`INSERT INTO local_media (media_id, media_type, upload_name, media_length, created_ts, user_id)
      VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (media_id) DO NOTHING`, [r.mediaId, r.mediaType, r.uploadName, r.mediaLength, r.createdTs, r.userId]);
    return res.rowCount === 1;
  }

  async getMedia(mediaId: string): Promise<MediaRecord | null> {
    const row = (await this.pool.query<MediaRow>('SELECT * FROM local_media WHERE media_id = $1', [mediaId])).rows[0];
    if (!row) return null;
    return {
      mediaId: row.media_id, mediaType: row.media_type, uploadName: row.upload_name,
      mediaLength: row.media_length, createdTs: row.created_ts, userId: row.user_id,
    };
  }
}
