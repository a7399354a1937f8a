import { errors } from '../errors.js';

/** A route template split at `/`: literal segments, or null where a `{param}` goes. */
interface CompiledRoute<T> {
  readonly method: string;
  readonly segments: readonly (string | null)[];
  readonly paramNames: readonly string[];
  readonly target: T;
}

export type RouteMatch<T> =
  | { readonly kind: 'found'; readonly target: T; readonly params: Record<string, string> }
  /** A template matches the path, but no operation has this method: 405. */
  | { readonly kind: 'method' }
  | { readonly kind: 'none' };

/** Percent-decoding of one path parameter; a malformed escape is the client's 400. */
function decodeParam(raw: string): string {
  if (raw.indexOf('%') === -1) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw errors.unknown(`Failed to decode param '${raw}'`, 400);
  }
}

/**
 * The spec's route templates, matched the way the Express routes they replace matched
 * them (`strict: false`, case-sensitive): a parameter is one non-empty segment, one
 * trailing `/` is ignored, the first template in table order with the request's method
 * wins (a GET route serves HEAD), and a path some template matches with no route for its
 * method is a 405. Templates are grouped by segment count, since a parameter never spans
 * a `/`, so a request is compared only with templates of its own length.
 */
export class RouteTable<T> {
  private readonly bySegments = new Map<number, CompiledRoute<T>[]>();

  add(method: string, template: string, target: T): void {
    // `/pushrules/` is served at `/pushrules` too, and the other way round
    const parts = (template.length > 1 && template.endsWith('/') ? template.slice(0, -1) : template).split('/');
    const segments = parts.map((s) => (/^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(s) ? null : s));
    const paramNames = parts.filter((s) => s.startsWith('{')).map((s) => s.slice(1, -1));
    let list = this.bySegments.get(segments.length);
    if (!list) {
      list = [];
      this.bySegments.set(segments.length, list);
    }
    list.push({ method: method.toUpperCase(), segments, paramNames, target });
  }

  match(method: string, path: string): RouteMatch<T> {
    const trimmed = path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f ? path.slice(0, -1) : path;
    const parts = trimmed.split('/');
    const candidates = this.bySegments.get(parts.length);
    if (!candidates) return { kind: 'none' };
    let pathMatched = false;
    for (const route of candidates) {
      if (!segmentsMatch(route.segments, parts)) continue;
      pathMatched = true;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return found(route, parts);
    }
    return pathMatched ? { kind: 'method' } : { kind: 'none' };
  }
}

function segmentsMatch(segments: readonly (string | null)[], parts: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === null) {
      if (parts[i] === '') return false;
    } else if (s !== parts[i]) {
      return false;
    }
  }
  return true;
}

function found<T>(route: CompiledRoute<T>, parts: readonly string[]): RouteMatch<T> {
  const params: Record<string, string> = {};
  let n = 0;
  for (let i = 0; i < route.segments.length; i++) {
    if (route.segments[i] === null) params[route.paramNames[n++]!] = decodeParam(parts[i]!);
  }
  return { kind: 'found', target: route.target, params };
}
