import sharp from 'sharp';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, request, startServer, type Account, type TestServer } from '../helpers/index.js';

const MEDIA = '/_matrix/media/v1';
let srv: TestServer;
let alice: Account;
beforeAll(async () => {
  srv = await startServer({ config: { max_upload_size: '200K' } });
  alice = await register(srv.baseUrl);
});
afterAll(async () => { expect(srv.specViolations()).toEqual([]); await srv.close(); });

async function upload(bytes: Buffer | string, contentType?: string, query = '', token = alice.accessToken): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (contentType !== undefined) headers['Content-Type'] = contentType;
  const body = typeof bytes === 'string' ? bytes : new Uint8Array(bytes);
  const res = await fetch(`${srv.baseUrl}${MEDIA}/upload${query}`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const mxcPath = (uri: string) => uri.slice('mxc://'.length);

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
}

describe('media upload and download', () => {
  it('stores bytes under the media store, answers an mxc:// URI, and serves them back with their type and name', async () => {
    const bytes = Buffer.from('hello, \u00e9 world\n');
    const up = await upload(bytes, 'text/plain', '?filename=' + encodeURIComponent('notes é.txt'));
    expect(up.status).toBe(200);
    const uri = up.body.content_uri as string;
    expect(uri).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9]{24}$/);
    const res = await fetch(`${srv.baseUrl}${MEDIA}/download/${mxcPath(uri)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('content-disposition')).toBe("inline; filename*=utf-8''notes%20%C3%A9.txt");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    const mediaId = uri.split('/').pop()!;
    expect(existsSync(path.join(srv.config.media_store_path, 'local_content', mediaId.slice(0, 2), mediaId.slice(2, 4), mediaId.slice(4)))).toBe(true);
  });

  it('keeps binary bytes and their content type; a non-inline type is an attachment', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
    const up = await upload(bytes, 'application/x-custom');
    const res = await fetch(`${srv.baseUrl}${MEDIA}/download/${mxcPath(up.body.content_uri as string)}`);
    expect(res.headers.get('content-type')).toBe('application/x-custom');
    expect(res.headers.get('content-disposition')).toBe('attachment');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
  });

  it('JSON bodies are just bytes here; no Content-Type means application/octet-stream', async () => {
    const json = await upload('{"a":1}', 'application/json');
    expect(json.status).toBe(200);
    const none = await fetch(`${srv.baseUrl}${MEDIA}/upload`, { method: 'POST', headers: { Authorization: `Bearer ${alice.accessToken}` }, body: new Uint8Array([1, 2, 3]) });
    const uri = ((await none.json()) as { content_uri: string }).content_uri;
    const res = await fetch(`${srv.baseUrl}${MEDIA}/download/${mxcPath(uri)}`);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('refuses uploads over max_upload_size with 413 M_TOO_LARGE, and uploads without a token', async () => {
    const big = await upload(Buffer.alloc(201 * 1024, 1), 'application/octet-stream');
    expect(big.status).toBe(413);
    expect(big.body.errcode).toBe('M_TOO_LARGE');
    const ok = await upload(Buffer.alloc(150 * 1024, 1), 'application/octet-stream');
    expect(ok.status).toBe(200);
    const anon = await fetch(`${srv.baseUrl}${MEDIA}/upload`, { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } });
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { errcode: string }).errcode).toBe('M_MISSING_TOKEN');
  });

  it('unknown media, and media of other servers: 404 M_NOT_FOUND', async () => {
    for (const p of ['download/localhost/AAAAAAAAAAAAAAAAAAAAAAAA', 'download/elsewhere.org/AAAA', 'thumbnail/localhost/nope?width=32&height=32']) {
      const res = await request(srv.baseUrl, 'GET', `${MEDIA}/${p}`);
      expect(res.status, p).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
  });
});

describe('thumbnails', () => {
  let imageUri: string;
  beforeAll(async () => {
    imageUri = (await upload(await png(200, 100), 'image/png')).body.content_uri as string;
  });

  async function thumb(query: string, uri = imageUri): Promise<{ status: number; type: string | null; bytes: Buffer }> {
    const res = await fetch(`${srv.baseUrl}${MEDIA}/thumbnail/${mxcPath(uri)}${query}`);
    return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
  }

  it('scale fits inside the box keeping the aspect ratio', async () => {
    const t = await thumb('?width=64&height=64&method=scale');
    expect(t.status).toBe(200);
    expect(t.type).toBe('image/png');
    const meta = await sharp(t.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([64, 32]);
  });

  it('crop fills the box exactly', async () => {
    const t = await thumb('?width=64&height=64&method=crop');
    const meta = await sharp(t.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
  });

  it('JPEG stays JPEG; scale never enlarges', async () => {
    const jpeg = await sharp(await png(40, 40)).jpeg().toBuffer();
    const uri = (await upload(jpeg, 'image/jpeg')).body.content_uri as string;
    const t = await thumb('?width=320&height=240', uri);
    expect(t.type).toBe('image/jpeg');
    const meta = await sharp(t.bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 40, 40]);
  });

  it('serves the original when the media cannot be scaled', async () => {
    const text = (await upload('not an image', 'text/plain')).body.content_uri as string;
    const t = await thumb('?width=32&height=32', text);
    expect(t.status).toBe(200);
    expect(t.type).toBe('text/plain');
    expect(t.bytes.toString()).toBe('not an image');
    const broken = (await upload(Buffer.from('\x89PNG garbage', 'latin1'), 'image/png')).body.content_uri as string;
    const b = await thumb('?width=32&height=32', broken);
    expect(b.status).toBe(200);
    expect(b.bytes.toString('latin1')).toBe('\x89PNG garbage');
  });

  it('caches generated thumbnails on disk', async () => {
    await thumb('?width=50&height=50&method=crop');
    const id = imageUri.split('/').pop()!;
    const dir = path.join(srv.config.media_store_path, 'local_thumbnails', id.slice(0, 2), id.slice(2, 4), id.slice(4));
    expect(readdirSync(dir)).toContain('50-50-crop');
    const again = await thumb('?width=50&height=50&method=crop');
    expect((await sharp(again.bytes).metadata()).width).toBe(50);
  });

  it('bad parameters: 400 M_INVALID_PARAM', async () => {
    for (const q of ['?width=0&height=10', '?width=abc&height=10', '?width=10&height=10&method=stretch']) {
      const res = await request(srv.baseUrl, 'GET', `${MEDIA}/thumbnail/${mxcPath(imageUri)}${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });
});
