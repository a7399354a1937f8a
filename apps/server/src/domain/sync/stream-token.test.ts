import { describe, expect, it } from 'vitest';
import {
  advance, clampToCurrent, formatStreamToken, InvalidStreamTokenError, isAfter, maxToken, parseStreamToken, positionOf,
  toLiveToken, tokensEqual, tryParseStreamToken, withPosition, withTopologicalRoom, ZERO_TOKEN, type StreamToken,
} from './stream-token.js';

const tok = (room: number, presence = 0, typing = 0, receipt = 0, account_data = 0): StreamToken =>
  ({ room: { stream: room }, presence, typing, receipt, account_data });

describe('parseStreamToken', () => {
  it.each<[string, StreamToken]>([
    ['s12_3_4_5_6', tok(12, 3, 4, 5, 6)],
    ['s1', tok(1)],
    ['s1_2', tok(1, 2)],
    ['s0_0_0_0_0', ZERO_TOKEN],
    ['t7-12_3_0_0_0', { ...tok(12, 3), room: { stream: 12, topological: 7 } }],
    ['t7-12', { ...tok(12), room: { stream: 12, topological: 7 } }],
    ['s1_2_3_4_5_6_7_8', tok(1, 2, 3, 4, 5)],
    ['s007_01', tok(7, 1)],
  ])('%s', (text, expected) => {
    expect(parseStreamToken(text)).toStrictEqual(expected);
  });

  it.each([
    '', 'END', 'abc', 's', 'sx', 's1_', 's1__2', 's-1', 's1_-2', 's1.5', 's1_2.0', 't1', 't1-', 't-1-2', 'tx-1',
    's1_a', ' s1', 's1 ', 'S1', 's1234567890123456', 's1_' + '1'.repeat(16), 'x'.repeat(600), 's1\n', 'u1_2',
    's1_2_3_4_5_6_7_8_9_10_x',
  ])('rejects %j', (text) => {
    expect(() => parseStreamToken(text)).toThrow(InvalidStreamTokenError);
    expect(tryParseStreamToken(text)).toBeUndefined();
  });

  it('errors carry the errcode for the HTTP layer', () => {
    try {
      parseStreamToken('garbage');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ errcode: 'M_BAD_PAGINATION', httpStatus: 400, token: 'garbage' });
    }
  });
});

describe('formatStreamToken', () => {
  it.each(['s12_3_4_5_6', 's0_0_0_0_0', 't7-12_3_0_0_1'])('round-trips %s', (text) => {
    expect(formatStreamToken(parseStreamToken(text))).toBe(text);
  });
  it('always writes every stream', () => {
    expect(formatStreamToken(parseStreamToken('s5'))).toBe('s5_0_0_0_0');
  });
});

describe('comparisons and updates', () => {
  it.each<[StreamToken, StreamToken, boolean]>([
    [tok(2), tok(1), true],
    [tok(1), tok(2), false],
    [tok(1), tok(1), false],
    [tok(1, 5), tok(2, 4), true],
    [tok(1, 0, 0, 0, 1), tok(1), true],
    [withTopologicalRoom(tok(0), 99, 3), tok(3), false],
  ])('isAfter(%j, %j) = %s', (a, b, expected) => {
    expect(isAfter(a, b)).toBe(expected);
  });

  it('advance moves forward only', () => {
    expect(advance(tok(5, 5), 'presence', 7)).toStrictEqual(tok(5, 7));
    expect(advance(tok(5, 5), 'presence', 3)).toStrictEqual(tok(5, 5));
    expect(advance(tok(5), 'room', 6)).toStrictEqual(tok(6));
    const t = tok(5);
    expect(advance(t, 'room', 5)).toBe(t);
  });

  it('withPosition replaces, and the room drops its topological part', () => {
    expect(withPosition(tok(5, 5), 'typing', 1)).toStrictEqual(tok(5, 5, 1));
    expect(withPosition(withTopologicalRoom(tok(5), 2, 5), 'room', 9)).toStrictEqual(tok(9));
  });

  it('positionOf reads the stream part of the room', () => {
    expect(positionOf(withTopologicalRoom(tok(0, 1), 2, 5), 'room')).toBe(5);
    expect(positionOf(tok(0, 1), 'presence')).toBe(1);
  });

  it('maxToken is component-wise and live', () => {
    expect(maxToken(tok(1, 9, 0, 3), withTopologicalRoom(tok(0, 2, 4, 1), 8, 6))).toStrictEqual(tok(6, 9, 4, 3));
  });

  it('tokensEqual tells s and t forms apart', () => {
    expect(tokensEqual(tok(3, 1), tok(3, 1))).toBe(true);
    expect(tokensEqual(tok(3), withTopologicalRoom(tok(3), 1, 3))).toBe(false);
  });

  it('toLiveToken drops the topological part', () => {
    expect(toLiveToken(withTopologicalRoom(tok(0, 2), 4, 9))).toStrictEqual(tok(9, 2));
    const t = tok(1);
    expect(toLiveToken(t)).toBe(t);
  });
});

describe('clampToCurrent', () => {
  const current = tok(10, 5, 5, 5, 5);
  it.each<[string, StreamToken, StreamToken]>([
    ['a past token is unchanged', tok(3, 1, 2, 3, 4), tok(3, 1, 2, 3, 4)],
    ['a future room position comes back to now', tok(999, 1), tok(10, 1)],
    ['each stream is clamped on its own', tok(1, 9, 1, 9, 1), tok(1, 5, 1, 5, 1)],
    ['a topological token in the past keeps its form', withTopologicalRoom(tok(0, 1), 4, 8), withTopologicalRoom(tok(0, 1), 4, 8)],
    ['a topological token from the future becomes live', withTopologicalRoom(tok(0), 40, 80), tok(10)],
  ])('%s', (_n, t, expected) => {
    expect(clampToCurrent(t, current)).toStrictEqual(expected);
  });
});
