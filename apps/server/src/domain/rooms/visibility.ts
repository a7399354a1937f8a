/**
 * History visibility: may a user see a room event? Synapse's synapse/visibility.py
 * (_check_history_visibility then _check_membership), judged with the state at the event,
 * meaning the state after it: a state event counts as part of its own state.
 */
import type { JsonObject, Membership } from '../events/types.js';
import type { HistoryVisibility } from './room-state.js';

/** Most visible first, so that "least restrictive" is the lower index. */
const VISIBILITY_PRIORITY: readonly HistoryVisibility[] = ['world_readable', 'shared', 'invited', 'joined'];
const MEMBERSHIP_PRIORITY: readonly Membership[] = ['join', 'invite', 'knock', 'leave', 'ban'];

export interface VisibilityEvent {
  readonly type: string;
  readonly state_key?: string | undefined;
  readonly content: JsonObject;
  readonly prev_content?: JsonObject | undefined;
}

export interface StateAtEvent {
  /** The user's membership in the state at the event; undefined if they had none. */
  readonly membership: Membership | undefined;
  /** history_visibility in the state at the event; missing or unknown counts as shared. */
  readonly historyVisibility: string | undefined;
}

export interface VisibilityOptions {
  /**
   * The user is not in the room now (Synapse's is_peeking): `shared` history then opens
   * only the events from while they were joined. Set it for reads by non-members, such as
   * GET /events/{eventId} after leaving; leave it false for a member's own room timeline.
   */
  readonly isPeeking?: boolean;
}

function asVisibility(v: unknown): HistoryVisibility {
  return typeof v === 'string' && (VISIBILITY_PRIORITY as readonly string[]).includes(v) ? (v as HistoryVisibility) : 'shared';
}

function asMembership(v: unknown): Membership {
  return typeof v === 'string' && (MEMBERSHIP_PRIORITY as readonly string[]).includes(v) ? (v as Membership) : 'leave';
}

export function canSeeEvent(userId: string, ev: VisibilityEvent, at: StateAtEvent, opts: VisibilityOptions = {}): boolean {
  const isPeeking = opts.isPeeking ?? false;
  let visibility = asVisibility(at.historyVisibility);
  if (ev.type === 'm.room.history_visibility') {
    // A change of visibility is seen under the laxer of the old and new settings.
    const prev = asVisibility(ev.prev_content?.['history_visibility']);
    if (VISIBILITY_PRIORITY.indexOf(prev) < VISIBILITY_PRIORITY.indexOf(visibility)) visibility = prev;
  }
  if (visibility === 'world_readable' || (visibility === 'shared' && !isPeeking)) return true;

  let membership = at.membership;
  if (ev.type === 'm.room.member' && ev.state_key === userId) {
    const now = asMembership(ev.content['membership']);
    const before = asMembership(ev.prev_content?.['membership']);
    // Users see their own leave, or the room would never vanish from their client.
    if (now === 'leave' && (before === 'join' || before === 'invite')) return true;
    membership = MEMBERSHIP_PRIORITY.indexOf(before) < MEMBERSHIP_PRIORITY.indexOf(now) ? before : now;
  }
  if (membership === 'join') return true;
  switch (visibility) {
    case 'joined':
      return false;
    case 'invited':
      return membership === 'invite';
    default:
      // shared while peeking: only what they saw as a member, handled above.
      return false;
  }
}
