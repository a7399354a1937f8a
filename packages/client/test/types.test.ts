import { describe, expectTypeOf, it } from 'vitest';
import type { paths } from '@axon/contract';
import type {
  Credentials, CreateRoomRequest, EventBatch, InitialSyncResponse, MatrixClient, MessagesPage, RoomEvent, StreamEvent,
} from '../src/index.js';

type IsAny<T> = 0 extends 1 & T ? true : false;

describe('types', () => {
  it('should derive the helper types from the generated paths, with no any', () => {
    expectTypeOf<Credentials>().toHaveProperty('access_token').toEqualTypeOf<string>();
    expectTypeOf<CreateRoomRequest['preset']>().toEqualTypeOf<'private_chat' | 'public_chat' | 'trusted_private_chat' | undefined>();
    expectTypeOf<InitialSyncResponse['end']>().toEqualTypeOf<string>();
    expectTypeOf<StreamEvent>().toHaveProperty('event_id');
    expectTypeOf<RoomEvent>().toHaveProperty('content');
    expectTypeOf<EventBatch['end']>().toEqualTypeOf<string>();
    expectTypeOf<MessagesPage['events']>().toEqualTypeOf<RoomEvent[]>();
    expectTypeOf<IsAny<StreamEvent>>().toEqualTypeOf<false>();
    expectTypeOf<IsAny<Awaited<ReturnType<MatrixClient['getState']>>>>().toEqualTypeOf<false>();
    expectTypeOf<IsAny<Awaited<ReturnType<MatrixClient['initialSync']>>>>().toEqualTypeOf<false>();
  });

  it('should type raw with full paths from the server root', () => {
    const typed = async (client: MatrixClient): Promise<void> => {
      const { data } = await client.raw.GET('/_matrix/client/api/v1/initialSync', { params: { query: { limit: 1 } } });
      if (data) expectTypeOf(data.end).toEqualTypeOf<string>();
      // @ts-expect-error: paths are full paths from the server root
      await client.raw.GET('/initialSync');
      // @ts-expect-error: limit is a number
      await client.raw.GET('/_matrix/client/api/v1/initialSync', { params: { query: { limit: 'x' } } });
    };
    expectTypeOf(typed).toBeFunction();
    expectTypeOf<keyof paths>().extract<'/_matrix/client/v2_alpha/register'>().not.toBeNever();
  });
});
