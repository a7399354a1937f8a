/**
 * Stream tokens: one position per stream, `s<room>_<presence>_<typing>_<receipt>_<account_data>`,
 * or with a topological room part `t<depth>-<stream>_...` for pagination (initialSync's
 * messages.start, /messages). Opaque to clients; versioned by their shape:
 * - a token with fewer parts is padded with 0, so streams can be appended later;
 * - parts beyond the known streams are ignored, so a token from a newer Axon still works
 *   after a downgrade.
 * `END` ("now") is for callers to recognise before parsing.
 */

export const STREAM_KEYS = ['room', 'presence', 'typing', 'receipt', 'account_data'] as const;
export type StreamKey = (typeof STREAM_KEYS)[number];

export interface RoomPosition {
  /** stream_ordering: just after this event in arrival order. */
  readonly stream: number;
  /** Present on `t` tokens: the topological_ordering (depth) of the same position. */
  readonly topological?: number;
}

export interface StreamToken {
  readonly room: RoomPosition;
  readonly presence: number;
  readonly typing: number;
  readonly receipt: number;
  readonly account_data: number;
}

/** Mapped by the HTTP layer to 400 M_BAD_PAGINATION. */
export class InvalidStreamTokenError extends Error {
  readonly errcode = 'M_BAD_PAGINATION';
  readonly httpStatus = 400;
  constructor(readonly token: string) {
    super("'from' parameter is invalid");
    this.name = 'InvalidStreamTokenError';
  }
}

export const ZERO_TOKEN: StreamToken = Object.freeze({
  room: Object.freeze({ stream: 0 }), presence: 0, typing: 0, receipt: 0, account_data: 0,
});

const MAX_TOKEN_LENGTH = 512;
const NUMBER = /^\d{1,15}$/;
const ROOM_PART = /^(?:s(\d{1,15})|t(\d{1,15})-(\d{1,15}))$/;

export function parseStreamToken(text: string): StreamToken {
  if (text.length === 0 || text.length > MAX_TOKEN_LENGTH) throw new InvalidStreamTokenError(text);
  const [roomPart = '', ...rest] = text.split('_');
  const room = ROOM_PART.exec(roomPart);
  if (!room) throw new InvalidStreamTokenError(text);
  if (!rest.every((p) => NUMBER.test(p))) throw new InvalidStreamTokenError(text);
  const at = (i: number): number => Number(rest[i] ?? 0);
  return {
    room: room[1] !== undefined ? { stream: Number(room[1]) } : { stream: Number(room[3]), topological: Number(room[2]) },
    presence: at(0),
    typing: at(1),
    receipt: at(2),
    account_data: at(3),
  };
}

/** Like parseStreamToken, but undefined instead of throwing. */
export function tryParseStreamToken(text: string): StreamToken | undefined {
  try {
    return parseStreamToken(text);
  } catch {
    return undefined;
  }
}

export function formatStreamToken(t: StreamToken): string {
  const room = t.room.topological === undefined ? `s${t.room.stream}` : `t${t.room.topological}-${t.room.stream}`;
  return `${room}_${t.presence}_${t.typing}_${t.receipt}_${t.account_data}`;
}

export function positionOf(t: StreamToken, key: StreamKey): number {
  return key === 'room' ? t.room.stream : t[key];
}

/** A copy with `key` set to `pos`; setting the room position drops any topological part. */
export function withPosition(t: StreamToken, key: StreamKey, pos: number): StreamToken {
  return key === 'room' ? { ...t, room: { stream: pos } } : { ...t, [key]: pos };
}

/** A copy with `key` moved forward to `pos`, never back (Synapse's copy_and_advance). */
export function advance(t: StreamToken, key: StreamKey, pos: number): StreamToken {
  return pos > positionOf(t, key) ? withPosition(t, key, pos) : t;
}

/** True if any position of `a` is ahead of `b`: something may have happened since `b`. */
export function isAfter(a: StreamToken, b: StreamToken): boolean {
  // Spelled out: every woken poll asks this, and a closure per key is measurable there.
  return a.room.stream > b.room.stream || a.presence > b.presence || a.typing > b.typing
    || a.receipt > b.receipt || a.account_data > b.account_data;
}

export function tokensEqual(a: StreamToken, b: StreamToken): boolean {
  return STREAM_KEYS.every((k) => positionOf(a, k) === positionOf(b, k)) && a.room.topological === b.room.topological;
}

/** Component-wise maximum, as a live (`s`) token. */
export function maxToken(a: StreamToken, b: StreamToken): StreamToken {
  return {
    room: { stream: Math.max(a.room.stream, b.room.stream) },
    presence: Math.max(a.presence, b.presence),
    typing: Math.max(a.typing, b.typing),
    receipt: Math.max(a.receipt, b.receipt),
    account_data: Math.max(a.account_data, b.account_data),
  };
}

/**
 * Positions ahead of `current` (a restored database, a token from another server) are
 * brought back to `current`, as Synapse does, rather than waiting for the future. A
 * topological room part is kept unless its stream part had to move.
 */
export function clampToCurrent(t: StreamToken, current: StreamToken): StreamToken {
  // Nearly every poll's token is at or behind now: answer that without copies.
  if (t.room.stream <= current.room.stream && t.presence <= current.presence && t.typing <= current.typing
    && t.receipt <= current.receipt && t.account_data <= current.account_data) return t;
  let out = t;
  for (const k of STREAM_KEYS) {
    if (positionOf(t, k) > positionOf(current, k)) out = withPosition(out, k, positionOf(current, k));
  }
  return out;
}

/** The live form of a token: /events ignores the topological part, as Synapse does. */
export function toLiveToken(t: StreamToken): StreamToken {
  return t.room.topological === undefined ? t : { ...t, room: { stream: t.room.stream } };
}

export function withTopologicalRoom(t: StreamToken, topological: number, stream: number): StreamToken {
  return { ...t, room: { stream, topological } };
}
