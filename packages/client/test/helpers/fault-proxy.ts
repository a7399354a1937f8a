/**
 * A tiny node:http server for testing the client's retry logic: it answers the next
 * requests with injected faults (a 429 with `retry_after_ms`, a 5xx, a dropped connection),
 * then delegates, either to a real Axon (`target`) or to a small in-memory /events stream.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'status'; status: number; body?: unknown }
  | { kind: 'drop' };

export interface RequestRecord {
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
  /** What the request got: a fault or `passed`. */
  outcome: 'passed' | 'status' | 'drop';
  status?: number;
}

export interface FakeEvent {
  event_id: string;
  type: string;
  room_id: string;
  sender: string;
  content: Record<string, unknown>;
}

export interface FaultProxy {
  url: string;
  /** Faults applied, in order, to the next requests whose path ends with `pathSuffix`. */
  inject(pathSuffix: string, ...faults: Fault[]): void;
  requests: RequestRecord[];
  /** In fake mode: append events to the stream (waking long-polls). */
  push(...events: FakeEvent[]): void;
  close(): Promise<void>;
}

export async function startFaultProxy(options: { target?: string } = {}): Promise<FaultProxy> {
  const faults: { suffix: string; fault: Fault }[] = [];
  const requests: RequestRecord[] = [];
  const stream: FakeEvent[] = [];
  const waiters = new Set<() => void>();
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const record: RequestRecord = { at: Date.now(), method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, outcome: 'passed' };
    requests.push(record);
    const index = faults.findIndex((f) => url.pathname.endsWith(f.suffix));
    if (index >= 0) {
      const [{ fault }] = faults.splice(index, 1) as [{ suffix: string; fault: Fault }];
      record.outcome = fault.kind;
      if (fault.kind === 'drop') { req.socket.destroy(); return; }
      record.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      res.end(JSON.stringify(fault.body ?? { errcode: 'M_UNKNOWN', error: `injected ${fault.status}` }));
      return;
    }
    try {
      if (options.target) await forward(options.target, req, res);
      else await fake(url, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errcode: 'M_UNKNOWN', error: String(error) }));
    }
  });

  async function fake(url: URL, res: http.ServerResponse): Promise<void> {
    if (!url.pathname.endsWith('/_matrix/client/api/v1/events')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errcode: 'M_UNRECOGNIZED', error: 'fake server: only /events' }));
      return;
    }
    const fromParam = url.searchParams.get('from');
    const from = fromParam === null ? stream.length : Number(fromParam.replace(/^s/, ''));
    const timeout = Number(url.searchParams.get('timeout') ?? '30000');
    if (stream.length <= from && timeout > 0) {
      await new Promise<void>((resolve) => {
        const wake = (): void => { clearTimeout(timer); waiters.delete(wake); resolve(); };
        const timer = setTimeout(wake, timeout);
        waiters.add(wake);
      });
    }
    const chunk = stream.slice(from);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ start: `s${from}`, end: `s${from + chunk.length}`, chunk }));
  }

  server.on('connection', (socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    inject(suffix, ...list) { for (const fault of list) faults.push({ suffix, fault }); },
    requests,
    push(...events) { stream.push(...events); for (const wake of [...waiters]) wake(); },
    async close() {
      for (const wake of [...waiters]) wake();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function forward(target: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers.set(name, value);
  }
  const init: RequestInit = { method: req.method ?? 'GET', headers };
  if (chunks.length > 0) init.body = Buffer.concat(chunks);
  const answer = await fetch(new URL(req.url ?? '/', target), init);
  const body = Buffer.from(await answer.arrayBuffer());
  res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
  res.end(body);
}
