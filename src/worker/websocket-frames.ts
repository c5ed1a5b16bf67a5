/**
 * Just enough of RFC 6455 for Kirin to hold an app's WebSockets to limits
 * without owning them: a scanner that walks the client's frame headers (sizes
 * and nothing else; payloads are skipped, never copied or unmasked), and the
 * few server frames Kirin sends itself (close, ping) and the handshake key.
 */
import { createHash } from 'node:crypto';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptKey(clientKey: string): string {
  return createHash('sha1').update(clientKey + HANDSHAKE_GUID).digest('base64');
}

/** A server close frame (unmasked): the code, and a reason of at most 123 bytes. */
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason).subarray(0, 123);
  const frame = Buffer.allocUnsafe(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}

/** An empty server ping: a live client answers with a pong. */
export const PING_FRAME = Buffer.from([0x89, 0x00]);

/**
 * Walks the frames a client sends, chunk by chunk, and adds up each message's
 * length across its fragments. Headers may be split between chunks; a small
 * scratch buffer carries the part already seen.
 */
export class ClientFrameScanner {
  readonly #maxMessageBytes: number;
  /** Payload bytes of the current frame still to come. */
  #skip = 0;
  /** The current data message's length so far (all its frames). */
  #messageBytes = 0;
  readonly #header = Buffer.allocUnsafe(14);
  #have = 0;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** False once a message is larger than the limit: the connection must be closed with 1009. */
  scan(chunk: Buffer): boolean {
    let i = 0;
    const length = chunk.length;
    while (i < length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const header = this.#header;
      header[this.#have++] = chunk[i++]!;
      if (this.#have < 2) continue;
      const len7 = header[1]! & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (header[1]! & 0x80 ? 4 : 0);
      if (this.#have < need) continue;
      this.#have = 0;
      const payload = len7 === 126 ? header.readUInt16BE(2) : len7 === 127 ? header.readUInt32BE(2) * 2 ** 32 + header.readUInt32BE(6) : len7;
      this.#skip = payload;
      // Control frames (close, ping, pong) sit between a message's fragments and are not part of it.
      if ((header[0]! & 0x08) !== 0) continue;
      this.#messageBytes += payload;
      if (this.#messageBytes > this.#maxMessageBytes) return false;
      if ((header[0]! & 0x80) !== 0) this.#messageBytes = 0;
    }
    return true;
  }
}
