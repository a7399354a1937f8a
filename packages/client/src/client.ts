import createFetchClient, { createQuerySerializer, type Client } from 'openapi-fetch';
import type { paths } from '@axon/contract';
import { backoffDelay, sleep, type RetryOptions } from './backoff.js';
import { isMatrixError, MatrixError } from './errors.js';
import { EventStream, type EventsOptions } from './events-stream.js';
import { paginate, type MessagesOptions, type MessagesPage } from './pagination.js';
import { makeTxnId } from './txn.js';
import type {
  CreateRoomRequest, CreateRoomResponse, Credentials, EventContent, FetchedEvent, InitialSyncQuery,
  InitialSyncResponse, JoinResponse, SendResponse, SetStateResponse, StateContent,
} from './types.js';

/** Where the access token goes on each request. */
export type TokenPlacement = 'header' | 'query';

/** The `fetch` the client calls; defaults to `globalThis.fetch`. */
export type FetchFunction = (input: Request) => Promise<Response>;

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The homeserver's root, e.g. `http://127.0.0.1:8008` (not `/_matrix/client/api/v1`). */
  baseUrl: string;
  /** Authenticate every request with this token. */
  accessToken?: string;
  /** The user the token belongs to, if known (register and login fill it in). */
  userId?: string;
  /**
   * `header` (the default): `Authorization: Bearer <token>`. `query`: the spec's
   * `access_token` query parameter, for servers of the era that only read that.
   */
  tokenIn?: TokenPlacement;
  /** A `fetch` to use instead of the global one (tests, proxies, polyfills). */
  fetch?: FetchFunction;
}

/** Options of {@link MatrixClient.register}. */
export interface RegisterOptions {
  /** The local part wanted; the server picks one when it is omitted. */
  username?: string;
  password: string;
  /**
   * `v2_alpha` (the default): `POST /_matrix/client/v2_alpha/register`, completing its
   * user-interactive auth with `m.login.dummy`. `v1`: the legacy
   * `POST /_matrix/client/api/v1/register` with `m.login.password`.
   */
  api?: 'v2_alpha' | 'v1';
}

/** Options of {@link MatrixClient.send}. */
export interface SendOptions {
  /** Reuse a transaction id, e.g. to retry a send whose answer was lost. Default: a new one. */
  txnId?: string;
  /**
   * Retry 429 (after `retry_after_ms`), 5xx and network errors with the same txnId, which
   * the server deduplicates, so a retried send never makes two events. Default: no retry.
   */
  retry?: RetryOptions;
  signal?: AbortSignal;
}

const V1 = '/_matrix/client/api/v1';

/**
 * A client for one homeserver, optionally authenticated as one user.
 *
 * Calling convention: the helpers (`login`, `createRoom`, `send`, ...) resolve to the
 * response body and throw a {@link MatrixError} for any non-2xx answer; a request that gets
 * no answer at all rejects with the `fetch` error. `raw` is the underlying openapi-fetch
 * client, typed from the spec for every API; it never throws for HTTP errors and returns
 * openapi-fetch's `{ data, error, response }` instead.
 */
export class MatrixClient {
  /** The homeserver's root URL. */
  readonly baseUrl: string;
  /** The access token, when authenticated. */
  readonly accessToken: string | undefined;
  /** The authenticated user's id, when known. */
  readonly userId: string | undefined;
  readonly tokenIn: TokenPlacement;
  /** openapi-fetch client typed with the spec's `paths`, full paths from the server root. */
  readonly raw: Client<paths>;
  readonly #fetch: FetchFunction | undefined;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.accessToken = options.accessToken;
    this.userId = options.userId;
    this.tokenIn = options.tokenIn ?? 'header';
    this.#fetch = options.fetch;
    const token = options.accessToken;
    const serialize = createQuerySerializer();
    this.raw = createFetchClient<paths>({
      baseUrl: this.baseUrl,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(token !== undefined && this.tokenIn === 'header' ? { headers: { Authorization: `Bearer ${token}` } } : {}),
      ...(token !== undefined && this.tokenIn === 'query'
        ? { querySerializer: (query: Record<string, unknown>) => serialize({ ...query, access_token: token }) }
        : {}),
    });
  }

  /** A client for the same server authenticated with `accessToken`. */
  withAccessToken(accessToken: string, userId?: string): MatrixClient {
    return new MatrixClient({
      baseUrl: this.baseUrl,
      accessToken,
      tokenIn: this.tokenIn,
      ...(userId !== undefined ? { userId } : {}),
      ...(this.#fetch ? { fetch: this.#fetch } : {}),
    });
  }

  // ---- accounts -------------------------------------------------------------------------

  /** Creates an account and returns a client logged in as it. */
  async register(options: RegisterOptions): Promise<MatrixClient> {
    const { username, password } = options;
    if (options.api === 'v1') {
      const body = { type: 'm.login.password' as const, password, ...(username !== undefined ? { user: username } : {}) };
      return this.#authenticated(await unwrap(this.raw.POST(`${V1}/register`, { body })));
    }
    const path = '/_matrix/client/v2_alpha/register';
    const base = { password, ...(username !== undefined ? { username } : {}) };
    const first = await this.raw.POST(path, { body: base });
    if (first.data) return this.#authenticated(first.data);
    const session = uiaSession(first.error);
    if (first.response.status !== 401 || session === undefined) throw new MatrixError(first.response.status, first.error);
    const auth = { type: 'm.login.dummy', session };
    return this.#authenticated(await unwrap(this.raw.POST(path, { body: { ...base, auth } })));
  }

  /** Logs in with `m.login.password` (`user` is a local part or a full user id). */
  async login(user: string, password: string): Promise<MatrixClient> {
    const body = { type: 'm.login.password', user, password };
    return this.#authenticated(await unwrap(this.raw.POST(`${V1}/login`, { body })));
  }

  /** Invalidates this client's access token. */
  async logout(): Promise<void> {
    await check(this.raw.POST(`${V1}/logout`));
  }

  // ---- rooms ----------------------------------------------------------------------------

  async createRoom(options: CreateRoomRequest = {}): Promise<CreateRoomResponse> {
    return unwrap(this.raw.POST(`${V1}/createRoom`, { body: options }));
  }

  /** Joins a room by id (`!...`) or alias (`#...`). */
  async join(roomIdOrAlias: string): Promise<JoinResponse> {
    return unwrap(this.raw.POST(`${V1}/join/{roomIdOrAlias}`, { params: { path: { roomIdOrAlias } }, body: {} }));
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await check(this.raw.POST(`${V1}/rooms/{roomId}/invite`, { params: { path: { roomId } }, body: { user_id: userId } }));
  }

  async leave(roomId: string): Promise<void> {
    await check(this.raw.POST(`${V1}/rooms/{roomId}/leave`, { params: { path: { roomId } } }));
  }

  /**
   * Sends a room event with `PUT .../send/{eventType}/{txnId}` and a fresh, collision-free
   * txnId (see {@link makeTxnId}).
   */
  async send(roomId: string, eventType: string, content: EventContent, options: SendOptions = {}): Promise<SendResponse> {
    const txnId = options.txnId ?? makeTxnId();
    const attempt = (): Promise<SendResponse> => unwrap(this.raw.PUT(`${V1}/rooms/{roomId}/send/{eventType}/{txnId}`, {
      params: { path: { roomId, eventType, txnId } },
      body: content,
      ...(options.signal ? { signal: options.signal } : {}),
    }));
    return options.retry ? withRetry(attempt, options.retry, options.signal) : attempt();
  }

  /** Sends an `m.room.message` of msgtype `m.text`. */
  async sendText(roomId: string, body: string, options: SendOptions = {}): Promise<SendResponse> {
    return this.send(roomId, 'm.room.message', { msgtype: 'm.text', body }, options);
  }

  /** Sets a piece of room state (`stateKey` defaults to the empty string). */
  async setState(roomId: string, eventType: string, content: EventContent, stateKey = ''): Promise<SetStateResponse> {
    return unwrap(this.raw.PUT(`${V1}/rooms/{roomId}/state/{eventType}/{stateKey}`, {
      params: { path: { roomId, eventType, stateKey } },
      body: content,
    }));
  }

  /** The content of a piece of room state; a MatrixError `M_NOT_FOUND` when it is not set. */
  async getState(roomId: string, eventType: string, stateKey = ''): Promise<StateContent> {
    return unwrap(this.raw.GET(`${V1}/rooms/{roomId}/state/{eventType}/{stateKey}`, {
      params: { path: { roomId, eventType, stateKey } },
    }));
  }

  // ---- sync -----------------------------------------------------------------------------

  /** `GET /initialSync`: every room with its state and latest messages, and the `end` token to stream from. */
  async initialSync(query: InitialSyncQuery = {}): Promise<InitialSyncResponse> {
    return unwrap(this.raw.GET(`${V1}/initialSync`, { params: { query } }));
  }

  /** `GET /events/{eventId}`. */
  async getEvent(eventId: string): Promise<FetchedEvent> {
    return unwrap(this.raw.GET(`${V1}/events/{eventId}`, { params: { path: { eventId } } }));
  }

  /**
   * Follows the /events stream forever (see {@link EventStream}):
   * `for await (const { events } of client.events({ from, signal })) ...`.
   */
  events(options: EventsOptions = {}): EventStream {
    return new EventStream(
      (from, timeout, signal) => unwrap(this.raw.GET(`${V1}/events`, {
        params: { query: { ...(from !== undefined ? { from } : {}), timeout } },
        signal,
      })),
      options,
    );
  }

  /** Pages through a room's history, newest first by default, until the start of the room. */
  messages(roomId: string, options: MessagesOptions = {}): AsyncGenerator<MessagesPage, void, undefined> {
    const { dir = 'b', limit, to } = options;
    return paginate((from, signal) => unwrap(this.raw.GET(`${V1}/rooms/{roomId}/messages`, {
      params: {
        path: { roomId },
        query: { dir, ...(from !== undefined ? { from } : {}), ...(limit !== undefined ? { limit } : {}), ...(to !== undefined ? { to } : {}) },
      },
      ...(signal ? { signal } : {}),
    })), options);
  }

  #authenticated(credentials: Credentials): MatrixClient {
    return this.withAccessToken(credentials.access_token, credentials.user_id);
  }
}

/** Creates a {@link MatrixClient}. */
export function createClient(options: ClientOptions): MatrixClient {
  return new MatrixClient(options);
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a 2xx answer; a MatrixError otherwise. */
async function unwrap<T>(request: Promise<FetchResult<T>>): Promise<T> {
  const { data, error, response } = await request;
  if (!response.ok || error !== undefined) throw new MatrixError(response.status, error);
  if (data === undefined) throw new MatrixError(response.status, { errcode: 'M_UNKNOWN', error: 'the server sent an empty body' });
  return data;
}

/** Like unwrap, for answers whose body does not matter. */
async function check(request: Promise<FetchResult<unknown>>): Promise<void> {
  const { error, response } = await request;
  if (!response.ok || error !== undefined) throw new MatrixError(response.status, error);
}

function uiaSession(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const session = (body as Record<string, unknown>)['session'];
  return typeof session === 'string' ? session : undefined;
}

/** Runs `attempt` until it succeeds, retrying 429, 5xx and network errors with backoff. */
async function withRetry<T>(attempt: () => Promise<T>, retry: RetryOptions, signal: AbortSignal | undefined): Promise<T> {
  const maxAttempts = retry.maxAttempts ?? 5;
  for (let failures = 0; ; ) {
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw error;
      const retryable = isMatrixError(error) ? error.httpStatus === 429 || error.httpStatus >= 500 : true;
      failures += 1;
      if (!retryable || failures > maxAttempts) throw error;
      const delayMs = isMatrixError(error) && error.retryAfterMs !== undefined
        ? Math.ceil(error.retryAfterMs * (1 + Math.random() * 0.1))
        : backoffDelay(failures, retry);
      retry.onRetry?.({ attempt: failures, delayMs, error });
      if (!(await sleep(delayMs, signal))) throw error;
    }
  }
}
