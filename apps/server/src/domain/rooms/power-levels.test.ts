import { describe, expect, it } from 'vitest';
import { defaultPowerLevelsContent, levelToSend, parsePowerLevels, toLevel, userLevel } from './power-levels.js';

describe('toLevel', () => {
  it.each([
    [50, 50], [-5, -5], [0, 0], ['75', 75], [' 10 ', 10], ['-3', -3],
    [1.5, undefined], ['abc', undefined], [null, undefined], [true, undefined], [{}, undefined], [Number.NaN, undefined],
  ])('%j -> %j', (input, expected) => {
    expect(toLevel(input)).toBe(expected);
  });
});

describe('parsePowerLevels', () => {
  it('without an event: creator 100, others 0, every send 0, moderation 50', () => {
    const pl = parsePowerLevels(undefined, '@c:hs');
    expect(userLevel(pl, '@c:hs')).toBe(100);
    expect(userLevel(pl, '@x:hs')).toBe(0);
    expect(levelToSend(pl, 'm.room.topic', true)).toBe(0);
    expect(levelToSend(pl, 'm.room.message', false)).toBe(0);
    expect([pl.ban, pl.kick, pl.redact, pl.invite]).toEqual([50, 50, 50, 0]);
  });

  it('with an empty event: state_default 50, events_default 0, users_default 0', () => {
    const pl = parsePowerLevels({}, '@c:hs');
    expect(userLevel(pl, '@c:hs')).toBe(0);
    expect(levelToSend(pl, 'x', true)).toBe(50);
    expect(levelToSend(pl, 'x', false)).toBe(0);
  });

  it('reads the default content Synapse gives a new room', () => {
    const pl = parsePowerLevels(defaultPowerLevelsContent('@c:hs', ['@t:hs']), '@c:hs');
    expect(userLevel(pl, '@c:hs')).toBe(100);
    expect(userLevel(pl, '@t:hs')).toBe(100);
    expect(userLevel(pl, '@x:hs')).toBe(0);
    expect(levelToSend(pl, 'm.room.name', true)).toBe(50);
    expect(levelToSend(pl, 'm.room.power_levels', true)).toBe(100);
    expect(levelToSend(pl, 'm.room.history_visibility', true)).toBe(100);
    expect(levelToSend(pl, 'm.room.topic', true)).toBe(50);
    expect(levelToSend(pl, 'm.room.message', false)).toBe(0);
    expect(pl.invite).toBe(0);
  });

  it('ignores malformed entries', () => {
    const pl = parsePowerLevels({ users: { '@a:hs': 'x', '@b:hs': 20 }, users_default: 'high', events: [] }, undefined);
    expect(userLevel(pl, '@a:hs')).toBe(0);
    expect(userLevel(pl, '@b:hs')).toBe(20);
    expect(pl.events.size).toBe(0);
  });

  it('is the exact Synapse default content', () => {
    expect(defaultPowerLevelsContent('@c:hs')).toStrictEqual({
      users: { '@c:hs': 100 }, users_default: 0,
      events: { 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100, 'm.room.canonical_alias': 50, 'm.room.avatar': 50 },
      events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50, invite: 0,
    });
  });
});
