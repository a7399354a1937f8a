import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../errors.js';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-guard.js';

const parse = (text: string | Buffer): unknown => parseJsonBody(Buffer.isBuffer(text) ? text : Buffer.from(text));

function refusal(text: string | Buffer): string {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof MatrixError) return err.errcode;
    throw err;
  }
  return 'accepted';
}

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('parseJsonBody', () => {
  it('refuses lone surrogate escapes in either case, in values and keys, short bodies included', () => {
    expect(refusal('"\\ud800"')).toBe('M_BAD_JSON');
    expect(refusal('"\\uD800"')).toBe('M_BAD_JSON');
    expect(refusal('"a\\uDFFFb"')).toBe('M_BAD_JSON');
    expect(refusal('{"\\udc00":1}')).toBe('M_BAD_JSON');
    expect(refusal('{"body":["x",{"y":"\\uDbFf"}]}')).toBe('M_BAD_JSON');
  });

  it('accepts paired surrogate escapes, and text that only looks like an escape', () => {
    expect(parse('{"body":"\\ud83d\\ude00"}')).toEqual({ body: '\u{1F600}' });
    expect(parse('{"body":"\\uD83D\\uDE00"}')).toEqual({ body: '\u{1F600}' });
    // an escaped backslash, then the letters: no surrogate in the value
    expect(parse('{"body":"\\\\ud800"}')).toEqual({ body: '\\ud800' });
    expect(parse('{"body":"\\u00e9"}')).toEqual({ body: 'é' });
  });

  it('refuses surrogates encoded as UTF-8 bytes as not JSON', () => {
    expect(refusal(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]))).toBe('M_NOT_JSON');
  });

  it('allows nesting up to the limit and refuses one level more', () => {
    expect(refusal(nested(MAX_JSON_DEPTH))).toBe('accepted');
    expect(refusal(nested(MAX_JSON_DEPTH + 1))).toBe('M_BAD_JSON');
    expect(refusal(`{"a":${nested(MAX_JSON_DEPTH)}}`)).toBe('M_BAD_JSON');
    // brackets inside strings do not nest
    expect(refusal(JSON.stringify({ body: '['.repeat(MAX_JSON_DEPTH + 10) }))).toBe('accepted');
  });

  it('refuses empty and malformed bodies as not JSON', () => {
    expect(refusal('')).toBe('M_NOT_JSON');
    expect(refusal('  \n')).toBe('M_NOT_JSON');
    expect(refusal('{"a":')).toBe('M_NOT_JSON');
  });
});
