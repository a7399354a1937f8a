/** A stored upload's metadata; the bytes live in the media store on disk. */
export interface MediaRecord {
  readonly mediaId: string;
  /** The Content-Type it was uploaded with. */
  readonly mediaType: string;
  /** The `filename` given on upload, for Content-Disposition. */
  readonly uploadName: string | null;
  readonly mediaLength: number;
  readonly createdTs: number;
  readonly userId: string;
}

/** Metadata of local media (the content repository). */
export interface MediaStore {
  /** Records an upload whose bytes are already on disk; false when the id is taken. */
  insertMedia(record: MediaRecord): Promise<boolean>;
  getMedia(mediaId: string): Promise<MediaRecord | null>;
}
