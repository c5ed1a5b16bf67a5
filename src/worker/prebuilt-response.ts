/**
 * A whole HTTP/1.1 response as bytes — status line, head, body — for the fast
 * lane (fast-lane.ts) to write with one `socket.write`. The head is what
 * node:http would have written for the same `writeHead(status, fields)` on a
 * keep-alive connection: the handler's fields, then Date, Connection and
 * Keep-Alive, so a client cannot tell which path answered.
 *
 * Date changes once a second: the bytes are rebuilt on the first request of
 * each second (a copy of at most a small file), not per request.
 */
import { STATUS_CODES } from '../util/node-http.ts';

export class PrebuiltResponse {
  readonly #statusAndFields: string;
  readonly #body: Buffer;
  #date = '';
  #connection = '';
  #full: Buffer | null = null;
  #headOnly: Buffer | null = null;

  /** `fields`: flat [name, value, …] pairs, as given to writeHead. */
  constructor(status: number, fields: readonly string[], body: Buffer) {
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n`;
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
    this.#statusAndFields = text;
    this.#body = body;
  }

  /**
   * The response for `date` (an HTTP-date) with the `connection` fields
   * ("Connection: keep-alive\r\n…") — without the body for HEAD.
   */
  bytes(headOnly: boolean, date: string, connection: string): Buffer {
    if (date !== this.#date || connection !== this.#connection) this.#build(date, connection);
    return headOnly ? this.#headOnly! : this.#full!;
  }

  #build(date: string, connection: string): void {
    const head = `${this.#statusAndFields}Date: ${date}\r\n${connection}\r\n`;
    const headLength = Buffer.byteLength(head, 'latin1');
    const full = Buffer.allocUnsafeSlow(headLength + this.#body.length);
    full.write(head, 0, 'latin1');
    this.#body.copy(full, headLength);
    this.#full = full;
    this.#headOnly = full.subarray(0, headLength);
    this.#date = date;
    this.#connection = connection;
  }
}
