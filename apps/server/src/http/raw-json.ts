/**
 * A reply whose JSON body is already serialised (the sync endpoints build theirs as text,
 * so that an event fanned out to many polls is stringified once). The router sends the
 * text as is; in test mode it parses it first, so response validation still sees it.
 */
export class RawJson {
  constructor(readonly text: string) {}
}
