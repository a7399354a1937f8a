/**
 * Serving room events in the v1 client format (as Synapse and the seed show them), and
 * serialising each event once for fan-out.
 *
 * One description of the wire shape (`describe`) feeds two back ends, so they cannot
 * drift apart:
 * - `formatClientEvent` builds a plain object, for one-off reads;
 * - `compileEvent` builds a JSON template: the event's JSON text cut at the places where
 *   `age` goes. `renderEvent` then costs one string concatenation per event and serve, so
 *   an event fanned out to 10,000 polls is stringified once, not 10,000 times.
 *   `EventJsonCache` keeps the templates of recent events by event id.
 */
import { prunedContent } from './redaction.js';
import type { JsonObject, PersistedEvent, RedactionSummary } from './types.js';

export type ClientUnsigned = {
  prev_content?: JsonObject;
  prev_sender?: string;
  replaces_state?: string;
  redacted_because?: ClientEvent;
  transaction_id?: string;
  age: number;
};

/**
 * A room event as served: assignable to @axon/contract's RoomEvent / StateEvent (a type
 * alias, not an interface, so that it fits the contract's Record<string, unknown>).
 */
export type ClientEvent = {
  event_id: string;
  type: string;
  room_id: string;
  sender: string;
  user_id: string;
  content: JsonObject;
  origin_server_ts: number;
  state_key?: string;
  redacts?: string;
  prev_content?: JsonObject;
  replaces_state?: string;
  unsigned: ClientUnsigned;
  age: number;
};

/** A state event as served: `state_key` is always there. */
export type ClientStateEvent = ClientEvent & { state_key: string };

export interface FormatOptions {
  /** The `txn_token` of the requesting access token; see PersistedEvent.txn_token. */
  readonly requesterToken?: string | undefined;
}

type Formattable = RedactionSummary & Partial<PersistedEvent>;

class AgeHole {
  constructor(readonly ts: number) {}
}
class ObjNode {
  constructor(readonly entries: ReadonlyArray<readonly [string, unknown]>) {}
}

function describe(ev: Formattable, withTxn: boolean): ObjNode {
  const redacted = ev.redacted_because !== undefined;
  const isState = typeof ev.state_key === 'string';
  const e: Array<readonly [string, unknown]> = [
    ['event_id', ev.event_id],
    ['type', ev.type],
    ['room_id', ev.room_id],
    ['sender', ev.sender],
    ['user_id', ev.sender],
    // Pruning again is idempotent and protects against storage serving unpruned content.
    ['content', redacted ? prunedContent(ev.type, ev.content) : ev.content],
    ['origin_server_ts', ev.origin_server_ts],
  ];
  if (isState) e.push(['state_key', ev.state_key]);
  if (ev.redacts !== undefined && !redacted) e.push(['redacts', ev.redacts]);
  const u: Array<readonly [string, unknown]> = [];
  if (isState && ev.prev_content !== undefined) {
    // v1 clients read these at the top level; Synapse copies them out of unsigned.
    e.push(['prev_content', ev.prev_content]);
    u.push(['prev_content', ev.prev_content]);
    if (ev.prev_sender !== undefined) u.push(['prev_sender', ev.prev_sender]);
  }
  if (isState && ev.replaces_state !== undefined) {
    e.push(['replaces_state', ev.replaces_state]);
    u.push(['replaces_state', ev.replaces_state]);
  }
  if (ev.redacted_because !== undefined) u.push(['redacted_because', describe(ev.redacted_because, false)]);
  if (withTxn && ev.txn_id !== undefined) u.push(['transaction_id', ev.txn_id]);
  const age = new AgeHole(ev.origin_server_ts);
  u.push(['age', age]);
  e.push(['unsigned', new ObjNode(u)], ['age', age]);
  return new ObjNode(e);
}

function materialise(node: unknown, now: number): unknown {
  if (node instanceof AgeHole) return now - node.ts;
  if (!(node instanceof ObjNode)) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of node.entries) out[k] = materialise(v, now);
  return out;
}

function wantsTxn(ev: Formattable, opts: FormatOptions | undefined): boolean {
  return ev.txn_id !== undefined && ev.txn_token !== undefined && opts?.requesterToken === ev.txn_token;
}

export function formatClientEvent(ev: PersistedEvent, now: number, opts?: FormatOptions): ClientEvent {
  return materialise(describe(ev, wantsTxn(ev, opts)), now) as ClientEvent;
}

/** formatClientEvent for an event known to be state (from a room's state, say). */
export function formatStateEvent(ev: PersistedEvent, now: number, opts?: FormatOptions): ClientStateEvent {
  if (typeof ev.state_key !== 'string') throw new TypeError(`${ev.event_id} is not a state event`);
  return { ...formatClientEvent(ev, now, opts), state_key: ev.state_key };
}

/** An event's JSON text with holes for the ages: parts[0] age(ts[0]) parts[1] ... */
export interface EventTemplate {
  readonly parts: readonly string[];
  readonly holeTs: readonly number[];
}

export interface CompiledEvent {
  readonly event_id: string;
  /** Whether it was compiled from a redacted event: a later redaction makes it stale. */
  readonly redacted: boolean;
  readonly plain: EventTemplate;
  /** Same, with unsigned.transaction_id, for the sender's own access token. */
  readonly withTxn?: EventTemplate;
  readonly txnToken?: string;
}

/**
 * The same string, flat. Built by `+=`, a template is a rope of some forty nodes; it lives
 * in the cache for minutes, so each node is copied by every young-generation GC until it
 * is promoted, and kept after that (2.5 KB instead of 0.5 KB an event, and scavenges
 * several times longer). Reading a character makes V8 flatten it in place.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

function compileTemplate(root: ObjNode): EventTemplate {
  const parts: string[] = [];
  const holeTs: number[] = [];
  let buf = '';
  const walk = (node: unknown): void => {
    if (node instanceof AgeHole) {
      parts.push(flat(buf));
      holeTs.push(node.ts);
      buf = '';
    } else if (node instanceof ObjNode) {
      buf += '{';
      node.entries.forEach(([k, v], i) => {
        buf += (i ? ',' : '') + JSON.stringify(k) + ':';
        walk(v);
      });
      buf += '}';
    } else {
      buf += JSON.stringify(node);
    }
  };
  walk(root);
  parts.push(flat(buf));
  return { parts, holeTs };
}

const AGE_KEY = '"age":';

/**
 * The plain template with unsigned.transaction_id added: `describe` puts it last in
 * unsigned, just before unsigned's age, whose hole is the second to last (the event's own
 * age is the last). So the part before that hole, which ends with `"age":`, gets the key
 * in front of it; the rest is shared. Half the work of compiling the event again.
 */
function withTransactionId(plain: EventTemplate, txnId: string): EventTemplate {
  const at = plain.holeTs.length - 2;
  const before = plain.parts[at]!;
  const parts = plain.parts.slice();
  parts[at] = `${before.slice(0, -AGE_KEY.length)}"transaction_id":${JSON.stringify(txnId)},${AGE_KEY}`;
  return { parts, holeTs: plain.holeTs };
}

export function compileEvent(ev: PersistedEvent): CompiledEvent {
  const hasTxn = ev.txn_id !== undefined && ev.txn_token !== undefined;
  const plain = compileTemplate(describe(ev, false));
  return Object.freeze({
    event_id: ev.event_id,
    redacted: ev.redacted_because !== undefined,
    plain,
    ...(hasTxn ? { withTxn: withTransactionId(plain, ev.txn_id!), txnToken: ev.txn_token } : {}),
  });
}

export function renderEvent(c: CompiledEvent, now: number, opts?: FormatOptions): string {
  const t = c.withTxn !== undefined && opts?.requesterToken === c.txnToken ? c.withTxn : c.plain;
  const { parts, holeTs } = t;
  let out = parts[0] ?? '';
  for (let i = 0; i < holeTs.length; i++) out += String(now - (holeTs[i] ?? now)) + (parts[i + 1] ?? '');
  return out;
}

/** Where an answer of megabytes is written as it is built, piece by piece (http/json-reply.ts). */
export interface JsonSink {
  write(text: string): void;
}

/** Joins rendered events into a JSON array, for building a response body as text. */
export function jsonArray(rendered: readonly string[]): string {
  return `[${rendered.join(',')}]`;
}

/**
 * Bounded LRU of compiled events by event id. Call `invalidate` when an event is redacted;
 * a compiled entry whose redaction state differs from the event given is also recompiled.
 */
export class EventJsonCache {
  private readonly entries = new Map<string, CompiledEvent>();
  /**
   * In front of the LRU: the compiled form of each event object in memory (room tails,
   * recent events, cached state), valid while no invalidation happened since. An
   * initialSync renders thousands of these; the LRU's refresh (a delete and a set on a
   * large Map) was a quarter of its time.
   */
  private readonly byObject = new WeakMap<PersistedEvent, { readonly compiled: CompiledEvent; readonly generation: number }>();
  private generation = 0;
  constructor(private readonly maxEntries = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  get(ev: PersistedEvent): CompiledEvent {
    const known = this.byObject.get(ev);
    if (known && known.generation === this.generation && known.compiled.redacted === (ev.redacted_because !== undefined)) {
      return known.compiled;
    }
    const compiled = this.getById(ev);
    this.byObject.set(ev, { compiled, generation: this.generation });
    return compiled;
  }

  private getById(ev: PersistedEvent): CompiledEvent {
    const hit = this.entries.get(ev.event_id);
    if (hit && hit.redacted === (ev.redacted_because !== undefined)) {
      this.entries.delete(ev.event_id);
      this.entries.set(ev.event_id, hit);
      return hit;
    }
    const compiled = compileEvent(ev);
    this.entries.set(ev.event_id, compiled);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return compiled;
  }

  render(ev: PersistedEvent, now: number, opts?: FormatOptions): string {
    return renderEvent(this.get(ev), now, opts);
  }

  /** Forgets the event's compiled form (a redaction); every object's entry is checked again. */
  invalidate(eventId: string): void {
    this.entries.delete(eventId);
    this.generation++;
  }
}

export { generateEventId, generateRoomId } from './ids.js';
