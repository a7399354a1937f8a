import { contentDisposition } from '../../domain/media/media-service.js';
import type { ThumbnailMethod } from '../../domain/media/thumbnailer.js';
import type { HandlerMap } from '../handler.js';
import { RawBody } from '../raw-body.js';

/** What Synapse sends with media, so that a browser opening it runs nothing. */
const MEDIA_HEADERS = {
  'Content-Security-Policy': "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'Cache-Control': 'public, max-age=86400, s-maxage=86400',
};

const header = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** The content repository: upload (raw body), download and thumbnails (raw replies). */
export const mediaHandlers: HandlerMap = {
  uploadContent: async ({ body, query, headers, app, requester }) => {
    const filename = typeof query.filename === 'string' ? query.filename : undefined;
    const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    const uri = await app.media.upload(requester().userId, bytes, header(headers['content-type']), filename);
    return { status: 200, body: { content_uri: uri } };
  },

  downloadContent: async (ctx) => {
    const { params, app } = ctx;
    const { record, bytes } = await app.media.download(params.serverName!, params.mediaId!, ctx);
    return {
      status: 200,
      body: new RawBody(bytes, record.mediaType, { ...MEDIA_HEADERS, 'Content-Disposition': contentDisposition(record.mediaType, record.uploadName) }),
    };
  },

  getContentThumbnail: async (ctx) => {
    const { params, query, app } = ctx;
    const thumb = await app.media.thumbnail(params.serverName!, params.mediaId!, {
      ...(typeof query.width === 'number' ? { width: query.width } : {}),
      ...(typeof query.height === 'number' ? { height: query.height } : {}),
      ...(typeof query.method === 'string' ? { method: query.method as ThumbnailMethod } : {}),
    }, ctx);
    return { status: 200, body: new RawBody(thumb.bytes, thumb.contentType, MEDIA_HEADERS) };
  },
};
