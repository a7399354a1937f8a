/**
 * Synapse's default push rules of the matrix-js-sdk 0.3.0 era (synapse/push/baserules.py,
 * late 2015): served read-only by GET /pushrules/.
 */
type Action = string | { set_tweak: string; value?: unknown };
interface Condition { kind: string; key?: string; pattern?: string; is?: string }
interface Rule { rule_id: string; default: true; enabled: boolean; actions: Action[]; conditions?: Condition[]; pattern?: string }

const notifySound = (sound: string): Action[] => ['notify', { set_tweak: 'sound', value: sound }, { set_tweak: 'highlight', value: false }];

export function defaultPushRules(userId: string): {
  global: { override: Rule[]; content: Rule[]; room: Rule[]; sender: Rule[]; underride: Rule[] };
  device: Record<string, never>;
} {
  const localpart = userId.slice(1, userId.indexOf(':') > 0 ? userId.indexOf(':') : undefined);
  return {
    global: {
      override: [
        { rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: ['dont_notify'] },
        {
          rule_id: '.m.rule.suppress_notices', default: true, enabled: true,
          conditions: [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }], actions: ['dont_notify'],
        },
        {
          rule_id: '.m.rule.invite_for_me', default: true, enabled: true,
          conditions: [
            { kind: 'event_match', key: 'type', pattern: 'm.room.member' },
            { kind: 'event_match', key: 'content.membership', pattern: 'invite' },
            { kind: 'event_match', key: 'state_key', pattern: userId },
          ],
          actions: notifySound('default'),
        },
        {
          rule_id: '.m.rule.member_event', default: true, enabled: true,
          conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.member' }], actions: ['dont_notify'],
        },
        {
          rule_id: '.m.rule.contains_display_name', default: true, enabled: true,
          conditions: [{ kind: 'contains_display_name' }],
          actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
        },
      ],
      content: [
        {
          rule_id: '.m.rule.contains_user_name', default: true, enabled: true, pattern: localpart,
          actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
        },
      ],
      room: [],
      sender: [],
      underride: [
        {
          rule_id: '.m.rule.call', default: true, enabled: true,
          conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.call.invite' }], actions: notifySound('ring'),
        },
        {
          rule_id: '.m.rule.room_one_to_one', default: true, enabled: true,
          conditions: [{ kind: 'room_member_count', is: '2' }],
          actions: notifySound('default'),
        },
        {
          rule_id: '.m.rule.message', default: true, enabled: true,
          conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
          actions: ['notify', { set_tweak: 'highlight', value: false }],
        },
      ],
    },
    device: {},
  };
}
