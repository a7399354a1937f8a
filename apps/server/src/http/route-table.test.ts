import { describe, expect, it } from 'vitest';
import { MatrixError } from '../errors.js';
import { RouteTable } from './route-table.js';

function table(): RouteTable<string> {
  const t = new RouteTable<string>();
  t.add('get', '/v1/rooms/{roomId}/state/{eventType}', 'stateOfType');
  t.add('put', '/v1/rooms/{roomId}/state/{eventType}', 'setState');
  t.add('get', '/v1/rooms/{roomId}/state/m.room.member', 'never: an earlier template matches first');
  t.add('get', '/v1/pushrules/', 'pushRules');
  return t;
}

describe('RouteTable', () => {
  it('matches templates by segment, decoding parameters', () => {
    expect(table().match('GET', '/v1/rooms/!a%3Ab/state/m.room.name')).toEqual({
      kind: 'found', target: 'stateOfType', params: { roomId: '!a:b', eventType: 'm.room.name' },
    });
    // an encoded slash stays inside its parameter
    expect(table().match('PUT', '/v1/rooms/x/state/a%2Fb')).toMatchObject({ target: 'setState', params: { eventType: 'a/b' } });
  });

  it('takes the first template in order, and GET routes serve HEAD', () => {
    expect(table().match('GET', '/v1/rooms/x/state/m.room.member')).toMatchObject({ target: 'stateOfType' });
    expect(table().match('HEAD', '/v1/rooms/x/state/t')).toMatchObject({ target: 'stateOfType' });
  });

  it('ignores one trailing slash, on either side', () => {
    expect(table().match('GET', '/v1/pushrules')).toMatchObject({ target: 'pushRules' });
    expect(table().match('GET', '/v1/pushrules/')).toMatchObject({ target: 'pushRules' });
    expect(table().match('GET', '/v1/rooms/x/state/t/')).toMatchObject({ target: 'stateOfType' });
    expect(table().match('GET', '/v1/rooms/x/state/t//').kind).toBe('none');
  });

  it('is case-sensitive, refuses empty parameters, and says 405 for a known path', () => {
    expect(table().match('GET', '/v1/Rooms/x/state/t').kind).toBe('none');
    expect(table().match('GET', '/v1/rooms//state/t').kind).toBe('none');
    expect(table().match('DELETE', '/v1/rooms/x/state/t').kind).toBe('method');
    expect(table().match('GET', '/v1/rooms/x/state').kind).toBe('none');
  });

  it('answers a malformed escape with a 400 Matrix error', () => {
    let thrown: unknown;
    try {
      table().match('GET', '/v1/rooms/%E0%A4%A/state/t');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MatrixError);
    expect((thrown as MatrixError).httpStatus).toBe(400);
  });
});
