/**
 * Request and response types of the helpers, all derived from the generated `paths` of
 * @axon/contract: nothing here restates the spec by hand.
 */
import type { paths } from '@axon/contract';

/** The JSON body of an operation's 200 response. */
export type OkJson<Op> = Op extends { responses: { 200: { content: { 'application/json': infer T } } } } ? T : never;
/** The JSON request body of an operation. */
export type JsonBody<Op> = Op extends { requestBody?: { content: { 'application/json': infer T } } } ? T : never;
/** The query parameters of an operation. */
export type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

type V1 = paths extends Record<infer K, unknown> ? K : never;
type Path<P extends V1> = paths[P];

export type RegisterV1Request = JsonBody<Path<'/_matrix/client/api/v1/register'>['post']>;
export type RegisterV2Request = JsonBody<Path<'/_matrix/client/v2_alpha/register'>['post']>;
export type LoginRequest = JsonBody<Path<'/_matrix/client/api/v1/login'>['post']>;
/** What register and login answer: `user_id`, `access_token`, `home_server`. */
export type Credentials = OkJson<Path<'/_matrix/client/api/v1/login'>['post']>;

export type CreateRoomRequest = JsonBody<Path<'/_matrix/client/api/v1/createRoom'>['post']>;
export type CreateRoomResponse = OkJson<Path<'/_matrix/client/api/v1/createRoom'>['post']>;
export type JoinResponse = OkJson<Path<'/_matrix/client/api/v1/join/{roomIdOrAlias}'>['post']>;
export type SendResponse = OkJson<Path<'/_matrix/client/api/v1/rooms/{roomId}/send/{eventType}/{txnId}'>['put']>;
/** The content of an event to send (any JSON object). */
export type EventContent = JsonBody<Path<'/_matrix/client/api/v1/rooms/{roomId}/send/{eventType}/{txnId}'>['put']>;
export type SetStateResponse = OkJson<Path<'/_matrix/client/api/v1/rooms/{roomId}/state/{eventType}/{stateKey}'>['put']>;
/** The content of a state event, as `getState` returns it. */
export type StateContent = OkJson<Path<'/_matrix/client/api/v1/rooms/{roomId}/state/{eventType}/{stateKey}'>['get']>;

export type InitialSyncQuery = QueryOf<Path<'/_matrix/client/api/v1/initialSync'>['get']>;
export type InitialSyncResponse = OkJson<Path<'/_matrix/client/api/v1/initialSync'>['get']>;
/** `GET /events/{eventId}`: the full event. */
export type FetchedEvent = OkJson<Path<'/_matrix/client/api/v1/events/{eventId}'>['get']>;

/** One page of `GET /events`. */
export type EventsResponse = OkJson<Path<'/_matrix/client/api/v1/events'>['get']>;
/** An item of the /events stream: a room event, or an ephemeral (presence, typing) event. */
export type StreamEvent = NonNullable<EventsResponse['chunk']>[number];

export type MessagesQuery = QueryOf<Path<'/_matrix/client/api/v1/rooms/{roomId}/messages'>['get']>;
/** One page of `GET /rooms/{roomId}/messages`. */
export type MessagesResponse = OkJson<Path<'/_matrix/client/api/v1/rooms/{roomId}/messages'>['get']>;
/** A room timeline event. */
export type RoomEvent = MessagesResponse['chunk'][number];
