/**
 * The Bun-style WebSocket API for fetch-handler apps:
 *
 *   export default {
 *     fetch(request, server) { if (server.upgrade(request, { data: { user } })) return; return new Response('hi') },
 *     websocket: { open(ws) {}, message(ws, message) { ws.send(message) }, close(ws, code, reason) {} },
 *   };
 *
 * Hono's `upgradeWebSocket` from 'hono/bun' speaks exactly this (it calls
 * `server.upgrade` and exports the matching `websocket`), so a Hono app uses
 * its own helper unchanged. The sockets are the `ws` package's; Kirin wraps
 * each in the small ServerWebSocket surface Bun documents.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';

/** What an app exports as `websocket` (Bun's WebSocketHandler, the parts Kirin calls). */
export interface BunWebSocketHandlers {
  open?(ws: ServerWebSocket): unknown;
  message?(ws: ServerWebSocket, message: string | Buffer): unknown;
  close?(ws: ServerWebSocket, code: number, reason: string): unknown;
  ping?(ws: ServerWebSocket, data: Buffer): unknown;
  pong?(ws: ServerWebSocket, data: Buffer): unknown;
}

/** The second argument of `server.upgrade(request, options)`. */
export interface UpgradeOptions {
  data?: unknown;
  headers?: Record<string, string> | Headers | [string, string][];
}

export function isWebSocketHandlers(value: unknown): value is BunWebSocketHandlers {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return ['open', 'message', 'close'].some((name) => typeof v[name] === 'function');
}

/**
 * The route's sockets. `ws` (and the https, tls and zlib modules it requires)
 * loads here, for an app that exports `websocket`: no other worker holds it.
 */
export async function createBunWebSockets(handlers: BunWebSocketHandlers, maxMessageBytes: number, onError: (error: unknown) => void): Promise<BunWebSockets> {
  const { WebSocketServer } = await import('ws');
  return new BunWebSockets(handlers, new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, clientTracking: false }), onError);
}

/** One per app route: the `ws` server (no listener of its own), the handlers and the topics of `subscribe`/`publish`. */
export class BunWebSockets {
  readonly #handlers: BunWebSocketHandlers;
  readonly #wss: WebSocketServer;
  readonly #topics = new Map<string, Set<ServerWebSocket>>();
  readonly #extraHeaders = new WeakMap<IncomingMessage, [string, string][]>();
  readonly #onError: (error: unknown) => void;

  constructor(handlers: BunWebSocketHandlers, wss: WebSocketServer, onError: (error: unknown) => void) {
    this.#handlers = handlers;
    this.#onError = onError;
    this.#wss = wss;
    this.#wss.on('headers', (headers, req) => {
      for (const [name, value] of this.#extraHeaders.get(req) ?? []) headers.push(`${name}: ${value}`);
    });
  }

  /** Completes the handshake the app asked for with `server.upgrade` and calls its handlers from then on. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, options: UpgradeOptions, remoteAddress: string): void {
    if (options.headers !== undefined) this.#extraHeaders.set(req, [...new Headers(options.headers as HeadersInit)]);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, options.data, remoteAddress));
  }

  /** Sends to every subscriber of `topic` except `from`; returns the number of bytes per send (Bun's count), 0 if nobody. */
  publish(topic: string, message: string | ArrayBufferView | ArrayBuffer, from: ServerWebSocket | null): number {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return 0;
    let sent = 0;
    for (const ws of subscribers) if (ws !== from) sent = ws.send(message);
    return sent;
  }

  subscribe(ws: ServerWebSocket, topic: string): void {
    let set = this.#topics.get(topic);
    if (set === undefined) this.#topics.set(topic, (set = new Set()));
    set.add(ws);
  }

  unsubscribe(ws: ServerWebSocket, topic: string): void {
    const set = this.#topics.get(topic);
    if (set === undefined) return;
    set.delete(ws);
    if (set.size === 0) this.#topics.delete(topic);
  }

  isSubscribed(ws: ServerWebSocket, topic: string): boolean {
    return this.#topics.get(topic)?.has(ws) ?? false;
  }

  #open(raw: WebSocket, data: unknown, remoteAddress: string): void {
    const ws = new ServerWebSocket(raw, data, remoteAddress, this);
    const handlers = this.#handlers;
    raw.on('message', (message: RawData, isBinary: boolean) => this.#call(() => handlers.message?.(ws, isBinary ? wholeBuffer(message) : message.toString())));
    raw.on('close', (code: number, reason: Buffer) => {
      for (const topic of ws.subscriptions) this.unsubscribe(ws, topic);
      this.#call(() => handlers.close?.(ws, code, reason.toString()));
    });
    if (handlers.ping) raw.on('ping', (payload: Buffer) => this.#call(() => handlers.ping!(ws, payload)));
    if (handlers.pong) raw.on('pong', (payload: Buffer) => this.#call(() => handlers.pong!(ws, payload)));
    // A protocol error from the client (bad frame, too big): ws closes the socket with the right code; nothing to crash.
    raw.on('error', () => {});
    this.#call(() => handlers.open?.(ws));
  }

  /** An app handler that throws (or rejects) is logged; the socket and the worker carry on. */
  #call(run: () => unknown): void {
    try {
      const result = run();
      if (result instanceof Promise) result.catch(this.#onError);
    } catch (error) {
      this.#onError(error);
    }
  }
}

/** Bun's ServerWebSocket, on a `ws` socket. */
export class ServerWebSocket {
  data: unknown;
  readonly remoteAddress: string;
  readonly #ws: WebSocket;
  readonly #owner: BunWebSockets;
  readonly #subscriptions = new Set<string>();

  constructor(ws: WebSocket, data: unknown, remoteAddress: string, owner: BunWebSockets) {
    this.#ws = ws;
    this.data = data;
    this.remoteAddress = remoteAddress;
    this.#owner = owner;
  }

  /** 0 connecting, 1 open, 2 closing, 3 closed, as in the browser. */
  get readyState(): number {
    return this.#ws.readyState;
  }

  get subscriptions(): string[] {
    return [...this.#subscriptions];
  }

  /** Sends a string as text and anything else as binary; returns the bytes queued, or 0 when the socket is not open. */
  send(message: string | ArrayBufferView | ArrayBuffer, compress?: boolean): number {
    if (this.#ws.readyState !== 1) return 0;
    this.#ws.send(message, { compress: compress === true });
    return typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength;
  }

  sendText(message: string, compress?: boolean): number {
    return this.send(message, compress);
  }

  sendBinary(message: ArrayBufferView | ArrayBuffer, compress?: boolean): number {
    return this.send(message, compress);
  }

  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }

  ping(data?: string | ArrayBufferView): void {
    this.#ws.ping(data);
  }

  pong(data?: string | ArrayBufferView): void {
    this.#ws.pong(data);
  }

  subscribe(topic: string): void {
    this.#subscriptions.add(topic);
    this.#owner.subscribe(this, topic);
  }

  unsubscribe(topic: string): void {
    this.#subscriptions.delete(topic);
    this.#owner.unsubscribe(this, topic);
  }

  isSubscribed(topic: string): boolean {
    return this.#owner.isSubscribed(this, topic);
  }

  /** To every other subscriber of `topic` in this worker. */
  publish(topic: string, message: string | ArrayBufferView | ArrayBuffer): number {
    return this.#owner.publish(topic, message, this);
  }

  getBufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  cork<T>(callback: (ws: ServerWebSocket) => T): T {
    return callback(this);
  }
}

/** A binary message as one Buffer that owns its memory (Hono reads `message.buffer`). */
function wholeBuffer(message: RawData): Buffer {
  const buffer = Array.isArray(message) ? Buffer.concat(message) : Buffer.isBuffer(message) ? message : Buffer.from(message);
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) return buffer;
  const owned = Buffer.from(new ArrayBuffer(buffer.byteLength));
  buffer.copy(owned);
  return owned;
}
