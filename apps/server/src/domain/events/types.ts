/**
 * The internal forms of a room event: what storage keeps (`PersistedEvent`) and what a
 * handler asks to create (`EventDraft`). Neither is the wire format; see format.ts.
 */

export type JsonObject = Record<string, unknown>;

/** The membership values Matrix defines; `knock` exists in the schema but no era rule allows it. */
export type Membership = 'invite' | 'join' | 'leave' | 'ban' | 'knock';

/**
 * The part of a redaction event kept inside the event it redacted
 * (`unsigned.redacted_because`). Kept small: it is copied into every redacted event.
 */
export interface RedactionSummary {
  readonly event_id: string;
  readonly room_id: string;
  readonly type: string;
  readonly sender: string;
  readonly content: JsonObject;
  readonly origin_server_ts: number;
  readonly redacts?: string;
}

export interface PersistedEvent {
  readonly event_id: string;
  readonly room_id: string;
  readonly type: string;
  /** Present exactly on state events; the empty string is a valid state key. */
  readonly state_key?: string;
  readonly sender: string;
  readonly content: JsonObject;
  readonly origin_server_ts: number;
  /** On m.room.redaction events: the event it redacts. */
  readonly redacts?: string;
  /** Global arrival position: the `s` part of stream tokens and the order of /events. */
  readonly stream_ordering: number;
  /** Per-room depth: with stream_ordering, the order of /messages and `t` tokens. */
  readonly topological_ordering: number;
  /** For state events that replaced earlier state: that state's content, sender and id. */
  readonly prev_content?: JsonObject;
  readonly prev_sender?: string;
  readonly replaces_state?: string;
  /** Set once the event is redacted; content is then already (or will be) pruned. */
  readonly redacted_because?: RedactionSummary;
  /** The client's transaction id, echoed only to the same access token. */
  readonly txn_id?: string;
  /**
   * Opaque identifier of the access token that sent the event (a token id or hash, never
   * the token itself), compared by equality to decide who sees `transaction_id`.
   */
  readonly txn_token?: string;
}

export interface EventDraft {
  readonly room_id: string;
  readonly type: string;
  readonly state_key?: string;
  readonly sender: string;
  readonly content: JsonObject;
  readonly redacts?: string;
}

export function isStateEvent(ev: { readonly state_key?: string | undefined }): boolean {
  return typeof ev.state_key === 'string';
}
