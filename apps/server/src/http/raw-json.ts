import { JsonBuffer } from './json-reply.js';

/**
 * A reply whose JSON body is already serialised (the sync endpoints build theirs as text,
 * so that an event fanned out to many polls is stringified once; initialSync encodes its
 * into a JsonBuffer as it goes). The router sends it as is; in test mode it parses it
 * first, so response validation still sees it.
 */
export class RawJson {
  constructor(readonly json: string | JsonBuffer) {}

  /** The text, for test mode; a JsonBuffer's buffer goes back to its pool. */
  takeText(): string {
    if (typeof this.json === 'string') return this.json;
    const text = this.json.toString();
    this.json.release();
    return text;
  }
}
