/**
 * A reply whose body is bytes, not JSON (media downloads and thumbnails). The router sends
 * it as is, with its Content-Type and extra headers; response validation, which checks
 * JSON bodies against spec/, does not apply to it.
 */
export class RawBody {
  constructor(
    readonly bytes: Buffer,
    readonly contentType: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}
