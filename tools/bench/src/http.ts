import http from 'node:http';

/** Keep-alive JSON requests from the bench client; one agent per logical client. */
export function makeAgent(maxSockets = 64): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

export interface JsonReply<T> {
  status: number;
  body: T;
}

export function requestJson<T = Record<string, unknown>>(
  agent: http.Agent, baseUrl: string, method: string, path: string, body?: unknown, token?: string, signal?: AbortSignal,
): Promise<JsonReply<T>> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      agent,
      signal,
      headers: {
        ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : {}) as T });
        } catch {
          reject(new Error(`${method} ${path}: ${res.statusCode} non-JSON body ${text.slice(0, 100)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function ok<T>(p: Promise<JsonReply<T>>, what: string): Promise<T> {
  const r = await p;
  if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
