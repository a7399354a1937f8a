import { validateEvent } from '@axon/contract';
import { errors, MatrixError } from '../../errors.js';
import type { LogSource } from '../../logging.js';
import type { AppendTransaction, EventStore, NewEvent } from '../../storage/events.js';
import { generateEventId, generateRoomId } from '../events/ids.js';
import { redactionSummary } from '../events/redaction.js';
import type { EventDraft, JsonObject, Membership, PersistedEvent } from '../events/types.js';
import { checkEventAllowed } from './auth-rules.js';
import { planCreateRoom, type CreateRoomRequest } from './create-room.js';

/** Who is acting: the user and the access token (hashed), for transaction ids. */
export interface Actor {
  readonly userId: string;
  readonly tokenHash: string;
  /** The request's logger, for lines about what the actor asked (the service's own otherwise). */
  readonly logs?: LogSource;
}

export interface Profile {
  readonly displayname?: string | null;
  readonly avatar_url?: string | null;
}

export interface RoomServiceOptions {
  readonly serverName: string;
  readonly store: EventStore;
  /** The user's profile, copied into their join events. */
  readonly profileOf: (userId: string) => Promise<Profile>;
  /** Whether a local user exists (invites to unknown users are refused). */
  readonly userExists: (userId: string) => Promise<boolean>;
  /** Called after a commit with what it stored; fan-out happens there, off the sender's path. */
  readonly onPersisted?: (events: readonly PersistedEvent[]) => void;
  /**
   * Hands a room message sent with a txnId to the event persister process (several
   * processes on one database; docs/scaling.md). Undefined back: store it here after all.
   */
  readonly forwardMessage?: (send: ForwardedMessage) => Promise<PersistedEvent | undefined>;
  /** Synapse's limit on a whole event, in bytes of JSON. */
  readonly maxEventBytes?: number;
  readonly now?: () => number;
}

const MAX_EVENT_BYTES = 65_536;
const MAX_ID_LENGTH = 255;

export interface SendOptions {
  readonly txnId?: string;
  readonly stateKey?: string;
  readonly redacts?: string;
}

/** A room message as the process that received it hands it to the event persister. */
export interface ForwardedMessage {
  readonly userId: string;
  readonly tokenHash: string;
  readonly roomId: string;
  readonly type: string;
  readonly content: JsonObject;
  readonly txnId: string;
}

/**
 * The write side of rooms: every event Axon creates goes through `createEvents`, where the
 * auth rules run against the state the event is applied to, inside the store's transaction.
 */
export class RoomService {
  readonly serverName: string;
  private readonly store: EventStore;
  private readonly opts: RoomServiceOptions;
  private readonly now: () => number;

  constructor(opts: RoomServiceOptions) {
    this.opts = opts;
    this.serverName = opts.serverName;
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
  }

  /** Checks a draft the way the spec constrains any event before it reaches the auth rules. */
  private checkDraft(draft: EventDraft): void {
    if (draft.type.length > MAX_ID_LENGTH) throw errors.badJson(`Event type too long (max ${MAX_ID_LENGTH})`);
    if (draft.state_key !== undefined && draft.state_key.length > MAX_ID_LENGTH) throw errors.badJson(`state_key too long (max ${MAX_ID_LENGTH})`);
    const probe = {
      event_id: '$probe:' + this.serverName, type: draft.type, content: draft.content, room_id: draft.room_id,
      sender: draft.sender, user_id: draft.sender, origin_server_ts: this.now(),
      ...(draft.state_key !== undefined ? { state_key: draft.state_key } : {}),
      ...(draft.redacts !== undefined ? { redacts: draft.redacts } : {}),
    };
    const bytes = Buffer.byteLength(JSON.stringify(probe));
    if (bytes > (this.opts.maxEventBytes ?? MAX_EVENT_BYTES)) throw new MatrixError(413, 'M_TOO_LARGE', 'Event too large');
    const checked = validateEvent(probe);
    if (!checked.ok) {
      const issue = checked.issues[0]!;
      throw errors.badJson(`Invalid ${draft.type} event: ${issue.path || '/'} ${issue.message}`);
    }
  }

  private toNewEvent(draft: EventDraft, txn?: { token: string; txnId: string }): NewEvent {
    // assigned, not spread: every event sent goes through here
    const ev: { -readonly [K in keyof NewEvent]: NewEvent[K] } = {
      room_id: draft.room_id, type: draft.type, sender: draft.sender, content: draft.content,
      event_id: generateEventId(this.serverName), origin_server_ts: this.now(),
    };
    if (draft.state_key !== undefined) ev.state_key = draft.state_key;
    if (draft.redacts !== undefined) ev.redacts = draft.redacts;
    if (txn) {
      ev.txn_id = txn.txnId;
      ev.txn_token = txn.token;
    }
    return ev;
  }

  /** Authorises and appends one event in an open transaction. */
  private appendChecked(tx: AppendTransaction, draft: EventDraft, redactedEventSender?: string, txn?: { token: string; txnId: string }): PersistedEvent {
    const verdict = checkEventAllowed(draft, tx.state, { redactedEventSender });
    if (!verdict.ok) throw verdict.errcode === 'M_FORBIDDEN' ? errors.forbidden(verdict.error) : errors.badJson(verdict.error);
    return tx.append(this.toNewEvent(draft, txn));
  }

  private persisted(events: readonly PersistedEvent[]): void {
    if (events.length > 0) this.opts.onPersisted?.(events);
  }

  /** The event a transaction already sent, if any. */
  private async knownTxnEvent(txn: { token: string; txnId: string }): Promise<PersistedEvent | null> {
    const known = await this.store.getEventIdForTxn(txn.token, txn.txnId);
    return known ? await this.store.getEvent(known) : null;
  }

  /** Sends one event (message or state) as `actor`; idempotent per (token, txnId). */
  async send(actor: Actor, roomId: string, type: string, content: JsonObject, options: SendOptions = {}): Promise<PersistedEvent> {
    // Only messages with a txnId are forwarded: if the persister cannot be reached, storing
    // the message here is safe, since the txnId finds the copy the persister may have
    // stored. Their auth needs no state the persister lacks, and they change none.
    if (this.opts.forwardMessage && options.txnId !== undefined && options.stateKey === undefined && type !== 'm.room.redaction') {
      // the persister runs every check, as sendHere does here
      const forwarded = await this.opts.forwardMessage({ userId: actor.userId, tokenHash: actor.tokenHash, roomId, type, content, txnId: options.txnId });
      if (forwarded) return forwarded;
    }
    return this.sendHere(actor, roomId, type, content, options);
  }

  /** `send`, stored by this process: the event persister's entry for forwarded messages. */
  async sendHere(actor: Actor, roomId: string, type: string, content: JsonObject, options: SendOptions = {}): Promise<PersistedEvent> {
    const draft: EventDraft = {
      room_id: roomId, type, sender: actor.userId, content,
      ...(options.stateKey !== undefined ? { state_key: options.stateKey } : {}),
      ...(options.redacts !== undefined ? { redacts: options.redacts } : {}),
    };
    const txn = options.txnId !== undefined ? { token: actor.tokenHash, txnId: options.txnId } : undefined;
    // A retry answers before any check: the first attempt already passed them. The append
    // looks the transaction up before it runs the plan, so the store is asked first only
    // when a check here fails (one query less per send).
    let redactedSender: string | undefined;
    try {
      this.checkDraft(draft);
      await this.requireRoom(roomId);
      if (type === 'm.room.redaction') {
        const target = options.redacts !== undefined ? await this.store.getEvent(options.redacts) : null;
        if (!target || target.room_id !== roomId) throw errors.notFound('Event not found');
        redactedSender = target.sender;
      }
    } catch (err) {
      const known = txn ? await this.knownTxnEvent(txn) : null;
      if (known) return known;
      throw err;
    }
    let unchanged: PersistedEvent | undefined;
    const result = await this.store.appendEvents(roomId, (tx) => {
      // the store may run the plan again, on fresher state
      unchanged = undefined;
      if (tx.state.size === 0) throw errors.forbidden(`Unknown room ${roomId}`);
      const verdict = checkEventAllowed(draft, tx.state, { redactedEventSender: redactedSender });
      if (!verdict.ok) throw verdict.errcode === 'M_FORBIDDEN' ? errors.forbidden(verdict.error) : errors.badJson(verdict.error);
      // Synapse's deduplicate_state_event: the same sender setting the same content again
      // gets the current event back, and nothing is stored.
      const current = draft.state_key !== undefined && draft.type !== 'm.room.member' ? tx.state.get(draft.type, draft.state_key) : undefined;
      if (current && current.sender === draft.sender && canonicalJson(current.content) === canonicalJson(draft.content)) {
        unchanged = current;
        return;
      }
      this.appendChecked(tx, draft, redactedSender, txn);
    }, txn ? { txn } : {});
    if (unchanged) return unchanged;
    const ev = result.events[0]!;
    if (!result.deduplicated) {
      if (ev.type === 'm.room.redaction' && ev.redacts !== undefined) await this.store.applyRedaction(ev.redacts, redactionSummary(ev));
      this.persisted(result.events);
    }
    return ev;
  }

  async createRoom(actor: Actor, request: CreateRoomRequest): Promise<{ roomId: string; roomAlias?: string }> {
    const roomId = generateRoomId(this.serverName);
    const profile = await this.opts.profileOf(actor.userId);
    const planned = planCreateRoom(request, { creator: actor.userId, roomId, serverName: this.serverName, creatorProfile: profile });
    if (!planned.ok) throw new MatrixError(400, planned.errcode, planned.error);
    const { plan } = planned;
    for (const invitee of request.invite ?? []) {
      if (!(await this.localUserExists(invitee))) throw errors.notFound(`Unknown user ${invitee}`);
    }
    for (const draft of plan.events) this.checkDraft(draft);
    if (plan.roomAlias !== undefined) {
      if (plan.roomAlias.length > MAX_ID_LENGTH) throw errors.invalidParam('room_alias_name too long');
      if (!(await this.store.createAlias(plan.roomAlias, roomId, actor.userId))) {
        throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
      }
    }
    try {
      await this.store.createRoomRecord({ roomId, creator: actor.userId, isPublic: plan.listedPublicly, createdTs: this.now() });
      const result = await this.store.appendEvents(roomId, (tx) => {
        for (const draft of plan.events) this.appendChecked(tx, draft);
      });
      this.persisted(result.events);
    } catch (err) {
      if (plan.roomAlias !== undefined) await this.store.deleteAlias(plan.roomAlias);
      throw err;
    }
    return { roomId, ...(plan.roomAlias !== undefined ? { roomAlias: plan.roomAlias } : {}) };
  }

  private async localUserExists(userId: string): Promise<boolean> {
    if (!/^@[^:]+:.+$/.test(userId)) throw errors.invalidParam(`Invalid user id ${userId}`);
    if (userId.slice(userId.indexOf(':') + 1) !== this.serverName) {
      throw errors.forbidden('Users on other servers cannot be reached: Axon does not federate');
    }
    return this.opts.userExists(userId);
  }

  /** Resolves `#alias:server` to its room id; room ids pass through. */
  async resolveRoom(roomIdOrAlias: string): Promise<string> {
    if (roomIdOrAlias.startsWith('!')) return roomIdOrAlias;
    if (roomIdOrAlias.startsWith('#')) {
      const alias = await this.store.getAlias(roomIdOrAlias);
      if (!alias) throw errors.notFound(`Room alias ${roomIdOrAlias} not found`);
      return alias.roomId;
    }
    throw errors.invalidParam(`${roomIdOrAlias} is neither a room id nor an alias`);
  }

  /** Every room operation answers 404 M_NOT_FOUND for a room this server does not know. */
  private async requireRoom(roomId: string): Promise<void> {
    if (!(await this.store.roomExists(roomId))) throw errors.notFound(`Unknown room ${roomId}`);
  }

  async join(actor: Actor, roomId: string): Promise<void> {
    await this.requireRoom(roomId);
    if ((await this.store.getMembership(roomId, actor.userId))?.membership === 'join') return;
    const profile = await this.opts.profileOf(actor.userId);
    await this.setMembership(actor, roomId, actor.userId, 'join', {
      ...(profile.displayname != null ? { displayname: profile.displayname } : {}),
      ...(profile.avatar_url != null ? { avatar_url: profile.avatar_url } : {}),
    });
  }

  async invite(actor: Actor, roomId: string, target: string): Promise<void> {
    if (!(await this.localUserExists(target))) throw errors.notFound(`Unknown user ${target}`);
    await this.setMembership(actor, roomId, target, 'invite', {});
  }

  async leave(actor: Actor, roomId: string): Promise<void> {
    await this.requireRoom(roomId);
    const current = await this.store.getMembership(roomId, actor.userId);
    if (!current || current.membership === 'leave') throw errors.forbidden(`User ${actor.userId} not in room ${roomId}`);
    await this.setMembership(actor, roomId, actor.userId, 'leave', {});
  }

  async kick(actor: Actor, roomId: string, target: string, reason?: string): Promise<void> {
    await this.requireRoom(roomId);
    const current = await this.store.getMembership(roomId, target);
    if (!current || (current.membership !== 'join' && current.membership !== 'invite')) {
      throw errors.forbidden(`${target} is not in room ${roomId}`);
    }
    await this.setMembership(actor, roomId, target, 'leave', reason !== undefined ? { reason } : {});
  }

  async ban(actor: Actor, roomId: string, target: string, reason?: string): Promise<void> {
    await this.setMembership(actor, roomId, target, 'ban', reason !== undefined ? { reason } : {});
  }

  async unban(actor: Actor, roomId: string, target: string): Promise<void> {
    await this.requireRoom(roomId);
    if ((await this.store.getMembership(roomId, target))?.membership !== 'ban') throw errors.forbidden(`${target} is not banned`);
    await this.setMembership(actor, roomId, target, 'leave', {});
  }

  async forget(actor: Actor, roomId: string): Promise<void> {
    await this.requireRoom(roomId);
    const current = await this.store.getMembership(roomId, actor.userId);
    // The spec's 404: the caller has never been in the room (Synapse answers 200 here).
    if (!current) throw errors.notFound(`User ${actor.userId} has never been in room ${roomId}`);
    if (current.membership === 'join' || current.membership === 'invite') {
      throw errors.unknown(`User ${actor.userId} is in room ${roomId}`);
    }
    await this.store.setForgotten(roomId, actor.userId);
  }

  private async setMembership(actor: Actor, roomId: string, target: string, membership: Membership, extra: JsonObject): Promise<PersistedEvent> {
    await this.requireRoom(roomId);
    return this.send(actor, roomId, 'm.room.member', { ...extra, membership }, { stateKey: target });
  }
}

/** JSON with object keys sorted, for comparing contents the way canonical JSON does. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
