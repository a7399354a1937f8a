import { errors } from '../../errors.js';

/**
 * Nesting deeper than this is refused before JSON.parse. Real Matrix content is a few
 * levels deep; 10,000 levels crash Synapse (Python's recursion limit), and in Node deep
 * values overflow the stack of every recursive consumer downstream (JSON.stringify, Ajv,
 * canonical JSON, redaction), turning one request into a 500.
 */
export const MAX_JSON_DEPTH = 512;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** True when `[`/`{` nest deeper than `max` outside strings; one pass, no recursion. */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

// With the u flag a paired surrogate is one astral code point, so this only matches lone ones.
const LONE_SURROGATE = /\p{Cs}/u;
/**
 * A `\uD800`-`\uDFFF` escape, the only way a lone surrogate gets into a parsed body: the
 * strict decoder refuses surrogates encoded as UTF-8 bytes. It may also match text that
 * only looks like one (an escaped backslash followed by `ud800`); the value is walked then.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** Whether some string or key of a parsed JSON value holds a lone surrogate (from a `\ud800` escape). */
export function hasLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return true;
        stack.push(item);
      }
    }
  }
  return false;
}

/**
 * Decodes and parses a JSON request body the way Synapse's servlet helpers refuse bad
 * ones: bytes that are not UTF-8 or not JSON are M_NOT_JSON; nesting beyond
 * MAX_JSON_DEPTH and strings that are not valid Unicode are M_BAD_JSON. Invalid UTF-8
 * used to be replaced by U+FFFD silently and stored.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw errors.notJson('Content not JSON: invalid UTF-8.');
  }
  if (text.trim() === '') throw errors.notJson();
  // Skipped for bodies too short to nest that deep, and the value's walk for bodies with
  // no surrogate escape: most bodies are both (the walk alone was 0.4% of a send's CPU).
  if (text.length > MAX_JSON_DEPTH && nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw errors.badJson(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw errors.notJson();
  }
  if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(value)) {
    throw errors.badJson('JSON strings must be valid Unicode (lone surrogate escape)');
  }
  return value;
}
