/**
 * The browser side of browser.test.ts, bundled by esbuild for the browser platform together
 * with the package's built main entry (dist/index.js, as consumers import it).
 */
import { createClient, isMatrixError } from '../../dist/index.js';

export interface PageResult {
  userId: string | undefined;
  sentByPage?: string;
  received?: { eventId: string | undefined; body: unknown; sender: string | undefined }[];
  loggedOutError?: string;
}

/** Logs in as `user`, then logs out and checks the token is dead. */
export async function loginOnly(baseUrl: string, user: string, password: string): Promise<PageResult> {
  const client = await createClient({ baseUrl }).login(user, password);
  await client.logout();
  const error = await client.logout().then(() => undefined, (e: unknown) => e);
  return { userId: client.userId, loggedOutError: isMatrixError(error) ? error.errcode : String(error) };
}

/**
 * Logs in, takes the stream token from initialSync, sends a message from the page, and
 * follows events() until it has seen its own message and `expectOther` (sent from Node).
 */
export async function sendAndReceive(baseUrl: string, user: string, password: string, roomId: string, expectBody: string): Promise<PageResult> {
  const client = await createClient({ baseUrl }).login(user, password);
  const { end } = await client.initialSync({ limit: 0 });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15_000);
  const { event_id: sentByPage } = await client.sendText(roomId, 'hello from the browser');
  const received: NonNullable<PageResult['received']> = [];
  for await (const batch of client.events({ from: end, timeout: 5000, signal: controller.signal })) {
    for (const event of batch.events) {
      if (event.type !== 'm.room.message') continue;
      received.push({ eventId: event.event_id, body: event.content['body'], sender: event.sender ?? event.user_id });
    }
    if (received.some((e) => e.body === expectBody) && received.some((e) => e.eventId === sentByPage)) break;
  }
  clearTimeout(timer);
  return { userId: client.userId, sentByPage, received };
}

declare global {
  interface Window { axonTest: { loginOnly: typeof loginOnly; sendAndReceive: typeof sendAndReceive } }
}
window.axonTest = { loginOnly, sendAndReceive };
