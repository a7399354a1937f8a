import { randomInt } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errors } from '../../errors.js';
import type { Logger, LogSource } from '../../logging.js';
import type { MediaRecord, MediaStore } from '../../storage/media.js';
import { makeThumbnail, type ThumbnailMethod } from './thumbnailer.js';

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Synapse's random_string(24). */
export function generateMediaId(): string {
  let s = '';
  for (let i = 0; i < 24; i++) s += LETTERS[randomInt(LETTERS.length)];
  return s;
}

const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;
/** Thumbnails are never asked bigger than this on either side. */
export const MAX_THUMBNAIL_SIDE = 1600;
const DEFAULT_TYPE = 'application/octet-stream';

export interface MediaFile {
  record: MediaRecord;
  bytes: Buffer;
}

export interface ThumbnailRequest {
  width?: number;
  height?: number;
  method?: ThumbnailMethod;
}

/**
 * The content repository: bytes under `<media_store_path>/local_content/ab/cd/rest` (the
 * layout Synapse uses), metadata in the database, thumbnails cached under
 * `<media_store_path>/local_thumbnails/<id>/`.
 */
export class MediaService {
  constructor(
    private readonly serverName: string,
    private readonly root: string,
    private readonly store: MediaStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private contentPath(mediaId: string): string {
    return path.join(this.root, 'local_content', mediaId.slice(0, 2), mediaId.slice(2, 4), mediaId.slice(4));
  }

  private thumbnailPath(mediaId: string, name: string): string {
    return path.join(this.root, 'local_thumbnails', mediaId.slice(0, 2), mediaId.slice(2, 4), mediaId.slice(4), name);
  }

  /** Stores the bytes, then their metadata; answers the mxc:// URI. */
  async upload(userId: string, bytes: Buffer, contentType: string | undefined, filename: string | undefined): Promise<string> {
    const mediaType = normaliseType(contentType);
    for (let attempt = 0; ; attempt++) {
      const mediaId = generateMediaId();
      const file = this.contentPath(mediaId);
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, file);
      const inserted = await this.store.insertMedia({
        mediaId, mediaType, uploadName: filename !== undefined && filename !== '' ? filename : null,
        mediaLength: bytes.length, createdTs: this.now(), userId,
      });
      if (inserted) return `mxc://${this.serverName}/${mediaId}`;
      if (attempt >= 3) throw new Error('could not allocate a media id');
    }
  }

  /** The file, or 404 M_NOT_FOUND (unknown id, or another server's: Axon does not federate). */
  async download(serverName: string, mediaId: string, logs?: LogSource): Promise<MediaFile> {
    if (serverName !== this.serverName || !MEDIA_ID.test(mediaId)) throw errors.notFound('Not found');
    const record = await this.store.getMedia(mediaId);
    if (!record) throw errors.notFound('Not found');
    try {
      return { record, bytes: await readFile(this.contentPath(mediaId)) };
    } catch (err) {
      (logs?.log ?? this.logger).error({ err, mediaId }, 'media metadata without its file');
      throw errors.notFound('Not found');
    }
  }

  /**
   * A thumbnail close to width x height, or the original when the media is not an image
   * that can be scaled. A missing side follows the other; both missing gives the original.
   */
  async thumbnail(serverName: string, mediaId: string, req: ThumbnailRequest, logs?: LogSource): Promise<{ bytes: Buffer; contentType: string }> {
    for (const [name, v] of [['width', req.width], ['height', req.height]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw errors.invalidParam(`${name} must be a positive integer`);
    }
    const file = await this.download(serverName, mediaId, logs);
    const original = { bytes: file.bytes, contentType: file.record.mediaType };
    if (req.width === undefined && req.height === undefined) return original;
    const width = Math.min(req.width ?? req.height!, MAX_THUMBNAIL_SIDE);
    const height = Math.min(req.height ?? req.width!, MAX_THUMBNAIL_SIDE);
    const method = req.method ?? 'scale';
    const cacheName = `${width}-${height}-${method}`;
    const cached = await readCached(this.thumbnailPath(mediaId, cacheName));
    if (cached) return cached;
    const thumb = await makeThumbnail(file.bytes, file.record.mediaType, width, height, method);
    if (!thumb) return original;
    await writeCached(this.thumbnailPath(mediaId, cacheName), thumb).catch((err: unknown) => {
      (logs?.log ?? this.logger).warn({ err, mediaId }, 'could not cache thumbnail');
    });
    return { bytes: thumb.bytes, contentType: thumb.contentType };
  }
}

/** The Content-Type as given, or application/octet-stream when absent or malformed. */
export function normaliseType(contentType: string | undefined): string {
  const t = contentType?.trim();
  return t && /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(t) ? t : DEFAULT_TYPE;
}

async function readCached(file: string): Promise<{ bytes: Buffer; contentType: string } | null> {
  try {
    const [bytes, contentType] = await Promise.all([readFile(file), readFile(`${file}.type`, 'utf8')]);
    return { bytes, contentType };
  } catch {
    return null;
  }
}

async function writeCached(file: string, thumb: { bytes: Buffer; contentType: string }): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.type`, thumb.contentType);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, thumb.bytes);
  await rename(tmp, file);
}

/**
 * Content-Disposition as Synapse sends it: inline for types a browser shows safely,
 * attachment otherwise, with the upload name (RFC 5987 encoded) when there is one.
 */
export function contentDisposition(mediaType: string, uploadName: string | null): string {
  const base = mediaType.split(';')[0]!.trim().toLowerCase();
  const inline = INLINE_TYPES.has(base);
  const kind = inline ? 'inline' : 'attachment';
  if (uploadName === null) return kind;
  return `${kind}; filename*=utf-8''${encodeRfc5987(uploadName)}`;
}

const INLINE_TYPES = new Set([
  'text/css', 'text/plain', 'text/csv', 'application/json', 'application/ld+json',
  'image/jpeg', 'image/gif', 'image/png', 'image/apng', 'image/webp', 'image/avif',
  'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime',
  'audio/mp4', 'audio/webm', 'audio/aac', 'audio/mpeg', 'audio/ogg', 'audio/wave', 'audio/wav', 'audio/x-wav', 'audio/x-pn-wav', 'audio/flac', 'audio/x-flac',
]);

function encodeRfc5987(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
