/**
 * A whole HTTP/1.1 response as bytes — status line, head, body — for the fast
 * lane (fast-lane.ts) to write with one `socket.write`; a body larger than
 * INLINE_BODY_BYTES stays its own buffer (`separateBody`), written right after
 * the head in the same writev, so it is never copied. The head is what
 * node:http would have written for the same `writeHead(status, fields)` on a
 * keep-alive connection: the handler's fields, then Date, Connection and
 * Keep-Alive, so a client cannot tell which path answered.
 *
 * Date changes once a second: the bytes are rebuilt on the first request of
 * each second (a copy of at most INLINE_BODY_BYTES), not per request.
 */
import { STATUS_CODES } from '../util/node-http.ts';

/** Bodies up to this size are copied behind the head: one buffer, one write (about 10% more 1 KiB responses per second than two). */
export const INLINE_BODY_BYTES = 16 * 1024;

export class PrebuiltResponse {
  readonly #statusAndFields: string;
  readonly #body: Buffer;
  #date = '';
  #connection = '';
  #full: Buffer | null = null;
  #headOnly: Buffer | null = null;
  /** The body, when it is not copied into the response bytes. */
  readonly separateBody: Buffer | null;

  /** `fields`: flat [name, value, …] pairs, as given to writeHead. */
  constructor(status: number, fields: readonly string[], body: Buffer) {
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n`;
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
    this.#statusAndFields = text;
    this.#body = body;
    this.separateBody = body.length > INLINE_BODY_BYTES ? body : null;
  }

  /**
   * The response for `date` (an HTTP-date) with the `connection` fields
   * ("Connection: keep-alive\r\n…") — without the body for HEAD, and without
   * a `separateBody`, which the caller writes after it.
   */
  bytes(headOnly: boolean, date: string, connection: string): Buffer {
    if (date !== this.#date || connection !== this.#connection) this.#build(date, connection);
    return headOnly ? this.#headOnly! : this.#full!;
  }

  #build(date: string, connection: string): void {
    const head = `${this.#statusAndFields}Date: ${date}\r\n${connection}\r\n`;
    const headLength = Buffer.byteLength(head, 'latin1');
    const inline = this.separateBody === null ? this.#body : EMPTY;
    const full = Buffer.allocUnsafeSlow(headLength + inline.length);
    full.write(head, 0, 'latin1');
    inline.copy(full, headLength);
    this.#full = full;
    this.#headOnly = full.subarray(0, headLength);
    this.#date = date;
    this.#connection = connection;
  }
}

const EMPTY = Buffer.alloc(0);
