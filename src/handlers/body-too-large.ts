/**
 * A request body past its route's `maxBody`, found while it streams in (a
 * chunked body shows its size only as it arrives): thrown to whoever reads it —
 * the proxy's upstream request, or a fetch app's `request.text()` — and
 * answered 413. `status` is there for app frameworks that map an error's
 * status to their answer (Express's and Koa's error handlers do).
 */
export class BodyTooLargeError extends Error {
  readonly status = 413;
  readonly limit: number;
  constructor(limit: number) {
    super(`the request body is larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
    this.limit = limit;
  }
}
