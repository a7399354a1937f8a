import type { MessagesResponse, RoomEvent } from './types.js';

/** Options of {@link MatrixClient.messages}. */
export interface MessagesOptions {
  /** `b` (the default) pages from newest to oldest; `f` from oldest to newest. */
  dir?: 'b' | 'f';
  /** Events per page (the server's default is 10). */
  limit?: number;
  /** Where to start: a token from initialSync's `messages.start`, /events or an earlier page. Default: now. */
  from?: string;
  /** Stop at this token. */
  to?: string;
  signal?: AbortSignal;
}

/** One page of a room's history. */
export interface MessagesPage {
  /** In the order of pagination: newest first for `dir: 'b'`. */
  events: RoomEvent[];
  start: string;
  /** Pass as `from` to continue after this page. */
  end: string;
}

export type FetchMessagesPage = (from: string | undefined, signal: AbortSignal | undefined) => Promise<MessagesResponse>;

/**
 * Pages through a room's history, following each answer's `end`, until a page comes back
 * empty (the start, or the end, of the room). Errors are thrown as MatrixError.
 */
export async function* paginate(fetchPage: FetchMessagesPage, options: MessagesOptions = {}): AsyncGenerator<MessagesPage, void, undefined> {
  let from = options.from;
  for (;;) {
    if (options.signal?.aborted) return;
    let page: MessagesResponse;
    try {
      page = await fetchPage(from, options.signal);
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    }
    if (page.chunk.length === 0) return;
    yield { events: page.chunk, start: page.start, end: page.end };
    if (page.end === from) return; // a server that does not move would loop forever
    from = page.end;
  }
}
