/**
 * Thumbnails through sharp (libvips; the prebuilt binary ships as an npm package, and the
 * work runs on libuv's thread pool, off the event loop). sharp is loaded on first use: if
 * it cannot load on some platform, or an image cannot be decoded, the caller serves the
 * original instead.
 */
export type ThumbnailMethod = 'scale' | 'crop';

export interface Thumbnail {
  bytes: Buffer;
  contentType: string;
  width: number;
  height: number;
}

type SharpModule = typeof import('sharp');
let loading: Promise<SharpModule['default'] | null> | undefined;

function loadSharp(): Promise<SharpModule['default'] | null> {
  loading ??= import('sharp').then((m) => m.default, () => null);
  return loading;
}

/** Types we try to decode; anything else (SVG among them) is served as uploaded. */
const SCALABLE = new Set(['image/jpeg', 'image/jpg', 'image/png', 'image/gif', 'image/webp', 'image/tiff', 'image/avif', 'image/heif']);

export function isScalable(mediaType: string): boolean {
  return SCALABLE.has(mediaType.split(';')[0]!.trim().toLowerCase());
}

/**
 * `scale` fits the image inside width x height keeping its aspect ratio, never enlarging;
 * `crop` fills width x height exactly, cutting the overflow around the centre. JPEG stays
 * JPEG, everything else becomes PNG, as Synapse does. Null when it cannot be done.
 */
export async function makeThumbnail(input: Buffer, mediaType: string, width: number, height: number, method: ThumbnailMethod): Promise<Thumbnail | null> {
  if (!isScalable(mediaType)) return null;
  const sharp = await loadSharp();
  if (!sharp) return null;
  try {
    const jpeg = /^image\/jpe?g/i.test(mediaType);
    const pipeline = sharp(input, { failOn: 'error', limitInputPixels: 100_000_000 })
      .rotate()
      .resize(width, height, method === 'crop' ? { fit: 'cover', position: 'centre' } : { fit: 'inside', withoutEnlargement: true });
    const { data, info } = await (jpeg ? pipeline.jpeg({ quality: 80 }) : pipeline.png()).toBuffer({ resolveWithObject: true });
    return { bytes: data, contentType: jpeg ? 'image/jpeg' : 'image/png', width: info.width, height: info.height };
  } catch {
    return null;
  }
}
