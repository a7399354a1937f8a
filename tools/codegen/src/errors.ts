/** A problem in spec/ that stops generation. `file` is relative to the spec root. */
export class SpecError extends Error {
  constructor(
    readonly file: string,
    readonly location: string,
    readonly detail: string,
  ) {
    super(`${file}${location ? ` at ${location}` : ''}: ${detail}`);
    this.name = 'SpecError';
  }
}
