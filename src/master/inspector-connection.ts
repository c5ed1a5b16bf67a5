/**
 * A connection to a worker's inspector: commands of the Chrome DevTools
 * Protocol over a WebSocket, with just enough of RFC 6455 for them (a client's masked text
 * frames out; the server's text frames, fragments and close in). Built on
 * node:net because a WebSocket client (`ws`, or Node's global WebSocket, which
 * is undici) loads tls and would add 13–17 MB to the master's RSS for a
 * connection it opens only when a worker hangs.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { acceptKey } from '../worker/websocket-frames.ts';

type Params = Record<string, unknown>;

/** A bound on one message from the inspector: the stall report (a stack, the requests in flight) is far smaller. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** A bound on the handshake response. */
const MAX_HEAD_BYTES = 8 * 1024;

export class InspectorConnection {
  readonly #socket: Socket;
  readonly #pending = new Map<number, { resolve: (result: Params) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #received: Buffer = Buffer.alloc(0);
  #fragments: Buffer[] = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Connects to `ws://127.0.0.1:PORT/UUID`; rejects when the socket or the handshake fails, or takes longer than `timeoutMs`. */
  static open(url: string, timeoutMs: number): Promise<InspectorConnection> {
    const { hostname, port, pathname } = new URL(url);
    const key = randomBytes(16).toString('base64');
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let head = Buffer.alloc(0);
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      const failed = () => fail(new Error(`the inspector at ${hostname}:${port} closed the connection during the handshake`));
      socket.once('error', fail);
      socket.once('close', failed);
      socket.setTimeout(timeoutMs, () => fail(new Error(`no WebSocket handshake from ${hostname}:${port} within ${timeoutMs} ms`)));
      socket.once('connect', () => {
        socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      const onHead = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) {
          if (head.length > MAX_HEAD_BYTES) fail(new Error('the inspector sent an oversized handshake response'));
          return;
        }
        socket.off('data', onHead);
        socket.off('error', fail);
        socket.off('close', failed);
        socket.setTimeout(0);
        const response = head.subarray(0, end).toString('latin1');
        const accept = /^sec-websocket-accept:\s*(\S+)\s*$/im.exec(response)?.[1];
        if (!response.startsWith('HTTP/1.1 101 ') || accept !== acceptKey(key)) {
          fail(new Error(`the inspector refused the WebSocket: ${response.split('\r\n')[0]}`));
          return;
        }
        const connection = new InspectorConnection(socket);
        resolve(connection);
        const rest = head.subarray(end + 4);
        if (rest.length > 0) connection.#receive(rest);
      };
      socket.on('data', onHead);
    });
  }

  /** Sends a command and waits for its result; rejects with the inspector's error, or when the connection closes. */
  call(method: string, params: Params = {}): Promise<Params> {
    if (this.#closed) return Promise.reject(new Error('the inspector connection is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.write(clientTextFrame(JSON.stringify({ id, method, params })));
    });
  }

  /** Hangs up; pending calls reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#socket.destroyed) this.#socket.end(clientCloseFrame());
    for (const { reject } of this.#pending.values()) reject(new Error('the inspector connection closed'));
    this.#pending.clear();
  }

  #receive(chunk: Buffer): void {
    this.#received = this.#received.length > 0 ? Buffer.concat([this.#received, chunk]) : chunk;
    for (;;) {
      const frame = this.#received;
      if (frame.length < 2) return;
      const len7 = frame[1]! & 0x7f;
      const headerLength = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
      if (frame.length < headerLength) return;
      const length = len7 === 126 ? frame.readUInt16BE(2) : len7 === 127 ? Number(frame.readBigUInt64BE(2)) : len7;
      // A server never masks its frames (RFC 6455 §5.1); either case is not the inspector.
      if ((frame[1]! & 0x80) !== 0 || length > MAX_MESSAGE_BYTES) return this.close();
      if (frame.length < headerLength + length) return;
      const payload = frame.subarray(headerLength, headerLength + length);
      this.#received = frame.subarray(headerLength + length);
      const opcode = frame[0]! & 0x0f;
      if (opcode === 0x8) return this.close();
      if (opcode !== 0x1 && opcode !== 0x0) continue;
      this.#fragments.push(payload);
      if ((frame[0]! & 0x80) === 0) continue;
      const text = Buffer.concat(this.#fragments).toString('utf8');
      this.#fragments = [];
      this.#dispatch(text);
    }
  }

  #dispatch(text: string): void {
    let message: { id?: number; result?: Params; error?: { message?: string } };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    // Events (messages without an id) are not asked for and not expected.
    if (message.id === undefined) return;
    const pending = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    if (message.error) pending?.reject(new Error(message.error.message ?? 'the inspector refused the command'));
    else pending?.resolve(message.result ?? {});
  }
}

/** A client's text frame: a client masks every frame it sends (RFC 6455 §5.3). */
function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const maskAt = 2 + lengthBytes;
  const frame = Buffer.allocUnsafe(maskAt + 4 + length);
  frame[0] = 0x81;
  frame[1] = 0x80 | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) frame.writeUInt16BE(length, 2);
  else if (lengthBytes === 8) frame.writeBigUInt64BE(BigInt(length), 2);
  randomFillSync(frame, maskAt, 4);
  for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = payload[i]! ^ frame[maskAt + (i & 3)]!;
  return frame;
}

/** A client's close frame, masked and empty. */
function clientCloseFrame(): Buffer {
  const frame = Buffer.from([0x88, 0x80, 0, 0, 0, 0]);
  randomFillSync(frame, 2, 4);
  return frame;
}
