export const V1 = '/_matrix/client/api/v1';
export const V2 = '/_matrix/client/v2_alpha';

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  /** Sent as JSON unless it is already a string. */
  body?: unknown;
  /** Sent as `Authorization: Bearer`. */
  token?: string;
  headers?: Record<string, string>;
}

/** One request; the body must be JSON (anything else fails the test). */
export async function request<T = Record<string, unknown>>(
  baseUrl: string, method: string, path: string, options: RequestOptions = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: T;
  try {
    parsed = JSON.parse(text) as T;
  } catch {
    throw new Error(`${method} ${path}: ${res.status} with a non-JSON body: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export interface Account {
  userId: string;
  accessToken: string;
  password: string;
}

let counter = 0;
/** A unique, valid localpart. */
export function uniqueName(prefix = 'user'): string {
  return `${prefix}${process.pid}_${++counter}`;
}

/** Registers through the legacy v1 API and returns the logged-in account. */
export async function register(baseUrl: string, user = uniqueName(), password = 'correct horse'): Promise<Account> {
  const res = await request<{ user_id: string; access_token: string }>(baseUrl, 'POST', `${V1}/register`, {
    body: { type: 'm.login.password', user, password },
  });
  if (res.status !== 200) throw new Error(`register ${user}: ${res.status} ${JSON.stringify(res.body)}`);
  return { userId: res.body.user_id, accessToken: res.body.access_token, password };
}

export async function login(baseUrl: string, user: string, password: string): Promise<JsonResponse> {
  return request(baseUrl, 'POST', `${V1}/login`, { body: { type: 'm.login.password', user, password } });
}
