/**
 * The auth rules every event Axon creates must pass: Synapse's event_auth of the v1 era
 * (room versions before 11), evaluated against the room's current state.
 */
import type { EventDraft, Membership } from '../events/types.js';
import { checkPowerLevelsChange, levelToSend } from './power-levels.js';
import type { RoomState } from './room-state.js';

export type AuthErrcode = 'M_FORBIDDEN' | 'M_BAD_JSON';
export type AuthResult = { ok: true } | { ok: false; errcode: AuthErrcode; error: string };

export interface AuthContext {
  /** For m.room.redaction: the sender of the event being redacted, if it is known. */
  readonly redactedEventSender?: string | undefined;
}

const OK: AuthResult = Object.freeze({ ok: true });
const forbid = (error: string): AuthResult => ({ ok: false, errcode: 'M_FORBIDDEN', error });

function domainOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

export function checkEventAllowed(draft: EventDraft, state: RoomState, ctx: AuthContext = {}): AuthResult {
  const create = state.get('m.room.create');
  if (draft.type === 'm.room.create') {
    if (create !== undefined || state.size > 0) return forbid('The room already exists');
    if (draft.state_key !== '') return forbid('m.room.create must have an empty state_key');
    return OK;
  }
  if (create === undefined) return forbid('The first event of a room must be m.room.create');
  if (draft.type === 'm.room.member') return checkMembership(draft, state);

  if (state.membershipOf(draft.sender) !== 'join') {
    return forbid(`User ${draft.sender} not in room ${draft.room_id}`);
  }
  const isState = typeof draft.state_key === 'string';
  if (draft.type === 'm.room.aliases') {
    // Aliases belong to a server, whatever the sender's power: the state key names it.
    if (draft.state_key !== domainOf(draft.sender)) return forbid('m.room.aliases state_key must be the sender\'s server');
    return OK;
  }
  if (isState && draft.state_key?.startsWith('@') && draft.state_key !== draft.sender) {
    return forbid('You are not allowed to set others state');
  }
  const pl = state.powerLevels();
  const senderLevel = state.powerLevelOf(draft.sender);
  const needed = levelToSend(pl, draft.type, isState);
  if (senderLevel < needed) {
    return forbid(`You don't have permission to post that to the room. user_level (${senderLevel}) < send_level (${needed})`);
  }
  if (draft.type === 'm.room.power_levels') {
    if (draft.state_key !== '') return forbid('m.room.power_levels must have an empty state_key');
    const verdict = checkPowerLevelsChange(draft.sender, senderLevel, state.content('m.room.power_levels'), draft.content);
    if (!verdict.ok) return verdict;
  }
  if (draft.type === 'm.room.redaction') {
    if (draft.redacts === undefined) return { ok: false, errcode: 'M_BAD_JSON', error: 'A redaction needs redacts' };
    const own = ctx.redactedEventSender !== undefined && ctx.redactedEventSender === draft.sender;
    if (!own && senderLevel < pl.redact) return forbid('You don\'t have permission to redact events');
  }
  return OK;
}

const MEMBERSHIPS: readonly string[] = ['invite', 'join', 'leave', 'ban'];

function checkMembership(draft: EventDraft, state: RoomState): AuthResult {
  const target = draft.state_key;
  if (target === undefined || !/^@[^:]+:.+$/.test(target)) {
    return { ok: false, errcode: 'M_BAD_JSON', error: 'm.room.member needs a user id as state_key' };
  }
  const membership = draft.content['membership'];
  if (typeof membership !== 'string' || !MEMBERSHIPS.includes(membership)) {
    return forbid(`Membership ${String(membership)} is not allowed`);
  }
  const sender = draft.sender;
  // The creator's own first join, right after m.room.create.
  if (membership === 'join' && sender === target && state.size === 1 && state.creator() === sender) return OK;

  const senderMembership = state.membershipOf(sender);
  const targetMembership = state.membershipOf(target);
  const senderLevel = state.powerLevelOf(sender);
  const pl = state.powerLevels();

  if (membership === 'join') {
    if (sender !== target) return forbid('Cannot force another user to join.');
    if (targetMembership === 'ban') return forbid('You are banned from this room');
    const rule = state.joinRule();
    if (rule === 'public') return OK;
    if (rule === 'invite') {
      // Already joined: a re-join, which is how a member updates their displayname/avatar.
      return targetMembership === 'join' || targetMembership === 'invite' ? OK : forbid('You are not invited to this room.');
    }
    return forbid('You are not allowed to join this room');
  }

  // Rejecting an invite is the one change a non-member may make.
  if (membership === 'leave' && sender === target && senderMembership === 'invite') return OK;
  if (senderMembership !== 'join') return forbid(`${sender} not in room ${draft.room_id}.`);

  const targetLevel = state.powerLevelOf(target);
  switch (membership as Exclude<Membership, 'join' | 'knock'>) {
    case 'invite':
      if (targetMembership === 'ban') return forbid(`${target} is banned from the room`);
      if (targetMembership === 'join') return forbid(`${target} is already in the room.`);
      if (senderLevel < pl.invite) return forbid(`You cannot invite user ${target}.`);
      return OK;
    case 'leave':
      if (targetMembership === 'ban' && senderLevel < pl.ban) return forbid(`You cannot unban user ${target}.`);
      if (targetMembership !== 'ban' && sender !== target && (senderLevel < pl.kick || senderLevel <= targetLevel)) {
        return forbid(`You cannot kick user ${target}.`);
      }
      return OK;
    case 'ban':
      if (senderLevel < pl.ban || senderLevel <= targetLevel) return forbid('You don\'t have permission to ban');
      return OK;
  }
}
