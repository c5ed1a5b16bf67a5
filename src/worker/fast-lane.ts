/**
 * The fast lane of a plain HTTP/1.1 listener: a request that is a plain GET
 * or HEAD for a small file the static handler holds in memory is answered
 * with one write of ready bytes, and one for a proxy route is relayed over a
 * raw upstream connection (handlers/proxy/relay.ts) — without node:http's
 * request and response objects, or undici's. Those cost more than everything
 * else about serving a 1 KiB file or relaying a small answer (a raw node:http
 * server answers about 0.7× as many such requests as nginx on one core; with
 * the fast lane Kirin answers about as many as nginx — docs/benchmarks.md).
 *
 * Every connection starts here. Each read is offered to the lane; the lane
 * takes it only when it is exactly one plain request (simple-request.ts)
 * whose site and route need nothing but the handler (Pipeline.simpleRoute:
 * no middleware, not draining) and whose handler has a response ready
 * (RouteHandler.prebuilt) or relays it (RouteHandler.relay). Anything else — and everything
 * after it on that connection — goes to node:http with the bytes as they
 * came, so its parser, limits, timeouts and the full request path answer
 * exactly as they do without the lane. The lane counts, logs and meters what
 * it answers as the full path does.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LimitsPlan } from '../config/plan.ts';
import type { LaneExchange, RouteHandler, SimpleRoute } from './context.ts';
import type { Pipeline } from './pipeline.ts';
import { PrebuiltResponse } from './prebuilt-response.ts';
import { emptySimpleRequest, recognizeSimpleRequest, type SimpleRequest } from './simple-request.ts';

type ConnectionListener = (this: Server, socket: Socket) => void;

/** Puts the lane in front of `server`'s own connection handling. Call before anyone else listens for 'connection'. */
export function installFastLane(server: Server, pipeline: Pipeline, limits: LimitsPlan): void {
  const listeners = server.listeners('connection') as ConnectionListener[];
  if (listeners.length !== 1) throw new Error(`the fast lane must be installed on a fresh server (it has ${listeners.length} connection listeners)`);
  const nodeHttp = listeners[0]!;
  server.removeListener('connection', nodeHttp);
  const lane = new FastLane(pipeline, limits);
  server.on('connection', (socket: Socket) => new LaneConnection(socket, lane, () => nodeHttp.call(server, socket)));
}

class FastLane {
  readonly pipeline: Pipeline;
  readonly limits: LimitsPlan;
  /** What node:http adds to a keep-alive response's head (_http_outgoing.js), so both paths answer alike. */
  readonly connectionFields: string;
  readonly #request: SimpleRequest = emptySimpleRequest();
  #date = '';
  #dateUntil = 0;

  constructor(pipeline: Pipeline, limits: LimitsPlan) {
    this.pipeline = pipeline;
    this.limits = limits;
    const keepAlive = limits.keepAliveTimeoutMs;
    this.connectionFields = keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAlive / 1000)}\r\n` : 'Connection: keep-alive\r\n';
  }

  /** Answers one read, or hands the connection to node:http. */
  serve(connection: LaneConnection, chunk: Buffer): void {
    const start = performance.now();
    const request = this.#request;
    const limits = this.limits;
    if (chunk.length > limits.maxHeaderSize || !recognizeSimpleRequest(chunk.toString('latin1'), limits.maxHeaders, request)) return connection.handOver(chunk);
    const simple = this.pipeline.simpleRoute(request.host, request.target);
    if (simple === null) return connection.handOver(chunk);
    const handler = simple.route.handler;
    if (handler.relay !== undefined) return connection.relay(handler, chunk, request, simple, start);
    const answer = handler.prebuilt === undefined ? null : handler.prebuilt(simple.handlerPath, request.acceptEncoding, start);
    if (answer === null) return connection.handOver(chunk);
    if (answer instanceof PrebuiltResponse) return this.#send(connection, answer, request, simple, start);
    // The handler must look at the disk first (a file not checked for a while).
    connection.wait(chunk, request, simple, start);
    const sent = answer.then((response) => {
      if (response === null) return false;
      if (!connection.socket.destroyed) this.#send(connection, response, connection.request, connection.route, start);
      return true;
    });
    connection.settleWith(sent);
  }

  #send(connection: LaneConnection, response: PrebuiltResponse, request: SimpleRequest, simple: SimpleRoute, start: number): void {
    const headOnly = request.method === 'HEAD';
    const bytes = response.bytes(headOnly, this.httpDate(), this.connectionFields);
    const body = headOnly ? null : response.separateBody;
    const socket = connection.socket;
    let flowing: boolean;
    if (body === null) flowing = socket.write(bytes);
    else {
      // Head and body in one writev: the body goes from its cached buffer to the kernel.
      socket.cork();
      socket.write(bytes);
      flowing = socket.write(body);
      socket.uncork();
    }
    if (!flowing) {
      // A client that sends without reading: take no more from it until it has read what it was sent.
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
    connection.answered();
    this.pipeline.servedSimple(socket, request, simple, 200, bytes.length + (body === null ? 0 : body.length), start);
  }

  /** The Date field's value, made once a second (as node:http does). */
  httpDate(): string {
    const now = Date.now();
    if (now >= this.#dateUntil) {
      this.#date = new Date(now).toUTCString();
      this.#dateUntil = now - (now % 1000) + 1000;
    }
    return this.#date;
  }
}

/**
 * One connection while the lane has it. While a response is looked up or
 * relayed, the connection is busy as node:http's are (`_httpMessage`, which
 * the worker reads to drain and count requests in flight); it is still read,
 * so a client that leaves is noticed, and what it sends meanwhile (a
 * pipelined request) waits its turn.
 */
class LaneConnection implements LaneExchange {
  readonly socket: Socket;
  readonly #lane: FastLane;
  readonly #toNodeHttp: () => void;
  #answered = false;
  /** A response is being looked up or relayed. */
  #waiting = false;
  /** Reads that came while waiting, and their size. */
  #queued: Buffer[] | null = null;
  #queuedBytes = 0;
  /** The client half-closed (sent FIN). */
  #peerEnded = false;
  /** While waiting: the read that holds the request (for node:http, if the lane lets it go), and when it came. */
  #chunk: Buffer | null = null;
  #start = 0;
  /** While waiting: copies of the request and its route (the lane's own objects serve the next request). */
  #request: SimpleRequest | null = null;
  #route: SimpleRoute | null = null;
  onAbort: (() => void) | null = null;

  constructor(socket: Socket, lane: FastLane, toNodeHttp: () => void) {
    this.socket = socket;
    this.#lane = lane;
    this.#toNodeHttp = toNodeHttp;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('timeout', this.#onTimeout);
    socket.on('close', this.#onClose);
    // Partial heads go to node:http at once (and its header timeout); this bounds a connection that sends nothing.
    socket.setTimeout(lane.limits.headerTimeoutMs);
  }

  readonly #onData = (chunk: Buffer) => {
    if (!this.#waiting) return this.#lane.serve(this, chunk);
    (this.#queued ??= []).push(chunk);
    this.#queuedBytes += chunk.length;
    // More than one request head may hold: the rest waits in the kernel.
    if (this.#queuedBytes > this.#lane.limits.maxHeaderSize) this.socket.pause();
  };
  /**
   * The client is done sending: close once what it asked for is written. A
   * relayed answer still coming is cut instead, as node:http does (it takes
   * the FIN for the client leaving, as most are).
   */
  readonly #onEnd = () => {
    this.#peerEnded = true;
    if (!this.#waiting) this.socket.end();
    else this.#onClose();
  };
  readonly #onError = () => this.socket.destroy();
  /** Idle past the keep-alive (or, before the first request, the header) timeout. */
  readonly #onTimeout = () => this.socket.destroy();
  readonly #onClose = () => {
    const abort = this.onAbort;
    this.onAbort = null;
    if (abort !== null) abort();
  };

  /** After the first answer, the connection is an idle keep-alive one between requests. */
  answered(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.socket.setTimeout(this.#lane.limits.keepAliveTimeoutMs);
  }

  /** Holds further requests until this one is answered; `request` and `route` are copies of it that stay valid meanwhile. */
  wait(chunk: Buffer, request: SimpleRequest, route: SimpleRoute, start: number): void {
    const socket = this.socket;
    // A slow answer is the handler's to bound (the upstream's response timeout), not the idle timeout's.
    socket.setTimeout(0);
    this.#waiting = true;
    this.#chunk = chunk;
    this.#start = start;
    Object.assign((this.#request ??= emptySimpleRequest()), request);
    Object.assign((this.#route ??= { ...route }), route);
    (socket as BusySocket)._httpMessage = this;
  }

  /** Reads go on once `sent` settles: true when the response went out, false to give the request to node:http. */
  settleWith(sent: Promise<boolean>): void {
    // A failed lookup is the full path's to report (it looks again, logs and answers).
    sent.then(
      (ok) => (ok ? this.#resume() : this.handBack()),
      () => this.handBack(),
    );
  }

  // ── LaneExchange, for a handler that relays ─────────────────────────

  get request(): SimpleRequest {
    return this.#request!;
  }

  get route(): SimpleRoute {
    return this.#route!;
  }

  /** For the worker's list of requests in flight (it reads `req` of a busy socket's `_httpMessage`). */
  get req(): { method: string; url: string; headers: { host: string } } | undefined {
    const request = this.#request;
    return this.#waiting && request !== null ? { method: request.method, url: request.target, headers: { host: request.host } } : undefined;
  }

  relay(handler: RouteHandler, chunk: Buffer, request: SimpleRequest, route: SimpleRoute, start: number): void {
    this.wait(chunk, request, route, start);
    if (!handler.relay!(this)) this.handBack();
  }

  clientIp(): string {
    return this.#lane.pipeline.simpleClient(this.socket, this.#request!);
  }

  forwardingFields(): string {
    return this.#lane.pipeline.forwardingFields(this.socket, this.#request!, this.clientIp());
  }

  responseFields(withDate: boolean): string {
    const lane = this.#lane;
    return withDate ? `Date: ${lane.httpDate()}\r\n${lane.connectionFields}` : lane.connectionFields;
  }

  done(status: number, bytes: number): void {
    this.answered();
    this.#lane.pipeline.servedSimple(this.socket, this.#request!, this.#route!, status, bytes, this.#start);
    this.#resume();
  }

  handBack(): void {
    const chunk = this.#chunk!;
    const queued = this.#takeQueued();
    this.#idle();
    if (!this.socket.destroyed) this.handOver(queued === null ? chunk : Buffer.concat([chunk, queued]));
  }

  #resume(): void {
    this.#idle();
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.setTimeout(this.#lane.limits.keepAliveTimeoutMs);
    const queued = this.#takeQueued();
    if (queued !== null) {
      // The next request came meanwhile; after a FIN, node:http answers it and closes as it would.
      if (this.#peerEnded) return this.handOver(queued);
      queueMicrotask(() => this.#onData(queued));
    } else if (this.#peerEnded) return void socket.end();
    if (!socket.writableNeedDrain) socket.resume();
    else {
      // A client that sends without reading: take no more from it until it has read what it was sent.
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  }

  #takeQueued(): Buffer | null {
    const queued = this.#queued;
    if (queued === null) return null;
    this.#queued = null;
    this.#queuedBytes = 0;
    return queued.length === 1 ? queued[0]! : Buffer.concat(queued);
  }

  #idle(): void {
    this.#waiting = false;
    this.#chunk = null;
    this.onAbort = null;
    (this.socket as BusySocket)._httpMessage = null;
  }

  /** node:http takes the connection for good, starting with `chunk`. */
  handOver(chunk: Buffer): void {
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('timeout', this.#onTimeout);
    socket.off('close', this.#onClose);
    socket.setTimeout(0);
    this.#toNodeHttp();
    // node:http reads through its parser from here; the read in hand is fed to that parser first.
    socket.emit('data', chunk);
    // A FIN that came while the lane had the connection is news to node:http too.
    if (this.#peerEnded) socket.emit('end');
    else if (socket.isPaused()) socket.resume();
  }
}

type BusySocket = Socket & { _httpMessage?: unknown };
