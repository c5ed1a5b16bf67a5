/**
 * Follows a chunked body (RFC 9112 §7.1) as it streams from an upstream to
 * the client, to tell where it ends: the relay (relay.ts) passes the chunks
 * on as they come, unchanged, and must know when the response is complete
 * and the connection free for the next request.
 *
 * Trailer fields are not passed on (the full path drops them too): the body
 * passed on ends with the last chunk's line, and the relay then writes the
 * final CRLF itself.
 */

const SIZE = 0;
const EXTENSION = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_LINE_START = 6;
const TRAILER_LINE = 7;
const END_LF = 8;
const DONE = 9;

/** A chunk size this large is not a real one (and would lose precision). */
const MAX_CHUNK = 2 ** 48;

export class ChunkedEnd {
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  /** After `scan`: where in the buffer the bytes to pass on end. */
  passEnd = 0;
  /** After `scan` returned true: where the body ended (bytes after it are not part of this response). */
  bodyEnd = 0;

  reset(): void {
    this.#state = SIZE;
    this.#size = 0;
    this.#digits = 0;
    this.#remaining = 0;
  }

  /**
   * Reads `buffer` from `from`. Sets `passEnd`; returns true when the body
   * ended in it (then `bodyEnd` is set), false when more is to come.
   * Throws on a malformed body.
   */
  scan(buffer: Buffer, from: number): boolean {
    let state = this.#state;
    let i = from;
    // Bytes before `i` are passed on while the body's chunks last; trailers are not.
    let passEnd = state >= TRAILER_LINE_START ? from : -1;
    const length = buffer.length;
    while (i < length) {
      if (state === DATA) {
        const take = Math.min(this.#remaining, length - i);
        this.#remaining -= take;
        i += take;
        if (this.#remaining === 0) state = DATA_CR;
        continue;
      }
      const c = buffer[i++]!;
      switch (state) {
        case SIZE: {
          const digit = hexValue(c);
          if (digit !== -1) {
            this.#size = this.#size * 16 + digit;
            if (++this.#digits > 12 || this.#size > MAX_CHUNK) throw new Error('chunk size too large');
          } else if (this.#digits === 0) throw new Error('chunk size expected');
          else if (c === 0x0d) state = SIZE_LF;
          else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) state = EXTENSION;
          else throw new Error('bad chunk size');
          break;
        }
        case EXTENSION:
          if (c === 0x0d) state = SIZE_LF;
          else if (c === 0x0a) throw new Error('bare LF in a chunk extension');
          break;
        case SIZE_LF:
          if (c !== 0x0a) throw new Error('CR without LF after a chunk size');
          if (this.#size === 0) {
            state = TRAILER_LINE_START;
            passEnd = i;
          } else {
            state = DATA;
            this.#remaining = this.#size;
          }
          this.#size = 0;
          this.#digits = 0;
          break;
        case DATA_CR:
          if (c !== 0x0d) throw new Error('chunk longer than its size');
          state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== 0x0a) throw new Error('CR without LF after chunk data');
          state = SIZE;
          break;
        case TRAILER_LINE_START:
          state = c === 0x0d ? END_LF : TRAILER_LINE;
          break;
        case TRAILER_LINE:
          if (c === 0x0a) state = TRAILER_LINE_START;
          break;
        case END_LF:
          if (c !== 0x0a) throw new Error('CR without LF at the end of a chunked body');
          state = DONE;
          break;
      }
      if (state === DONE) {
        this.#state = DONE;
        this.passEnd = passEnd;
        this.bodyEnd = i;
        return true;
      }
    }
    this.#state = state;
    this.passEnd = passEnd === -1 ? length : passEnd;
    return false;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
