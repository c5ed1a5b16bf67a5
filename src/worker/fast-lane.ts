/**
 * The fast lane of a plain HTTP/1.1 listener: a request that is a plain GET
 * or HEAD for a small file the static handler holds in memory is answered
 * with one write of ready bytes, without node:http's request and response
 * objects. Those cost more than everything else about serving a 1 KiB file
 * (a raw node:http server answers about 0.7× as many such requests as nginx
 * on one core; with the fast lane Kirin answers about as many as nginx —
 * docs/benchmarks.md).
 *
 * Every connection starts here. Each read is offered to the lane; the lane
 * takes it only when it is exactly one plain request (simple-request.ts)
 * whose site and route need nothing but the handler (Pipeline.simpleRoute:
 * no middleware, no forwarding, not draining) and whose handler has a
 * response ready (RouteHandler.prebuilt). Anything else — and everything
 * after it on that connection — goes to node:http with the bytes as they
 * came, so its parser, limits, timeouts and the full request path answer
 * exactly as they do without the lane. The lane counts, logs and meters what
 * it answers as the full path does.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { LimitsPlan } from '../config/plan.ts';
import type { Pipeline, SimpleRoute } from './pipeline.ts';
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
  readonly #pipeline: Pipeline;
  readonly limits: LimitsPlan;
  /** What node:http adds to a keep-alive response's head (_http_outgoing.js), so both paths answer alike. */
  readonly #connectionFields: string;
  readonly #request: SimpleRequest = emptySimpleRequest();
  #date = '';
  #dateUntil = 0;

  constructor(pipeline: Pipeline, limits: LimitsPlan) {
    this.#pipeline = pipeline;
    this.limits = limits;
    const keepAlive = limits.keepAliveTimeoutMs;
    this.#connectionFields = keepAlive ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAlive / 1000)}\r\n` : 'Connection: keep-alive\r\n';
  }

  /** Answers one read, or hands the connection to node:http. */
  serve(connection: LaneConnection, chunk: Buffer): void {
    const start = performance.now();
    const request = this.#request;
    const limits = this.limits;
    if (chunk.length > limits.maxHeaderSize || !recognizeSimpleRequest(chunk.toString('latin1'), limits.maxHeaders, request)) return connection.handOver(chunk);
    const simple = this.#pipeline.simpleRoute(request.host, request.target);
    if (simple === null) return connection.handOver(chunk);
    const handler = simple.route.handler;
    const answer = handler.prebuilt === undefined ? null : handler.prebuilt(simple.handlerPath, request.acceptEncoding, start);
    if (answer === null) return connection.handOver(chunk);
    if (answer instanceof PrebuiltResponse) return this.#send(connection, answer, request, simple, start);
    // The handler must look at the disk first (a file not checked for a while). The request and
    // route are copied: their objects serve the next request, maybe on another connection.
    const waiting = { ...request };
    const route = { ...simple };
    const sent = answer.then((response) => {
      if (response === null) return false;
      if (!connection.socket.destroyed) this.#send(connection, response, waiting, route, start);
      return true;
    });
    connection.waitFor(sent, chunk);
  }

  #send(connection: LaneConnection, response: PrebuiltResponse, request: SimpleRequest, simple: SimpleRoute, start: number): void {
    const bytes = response.bytes(request.method === 'HEAD', this.#httpDate(), this.#connectionFields);
    const socket = connection.socket;
    if (!socket.write(bytes)) {
      // A client that sends without reading: take no more from it until it has read what it was sent.
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
    connection.answered();
    this.#pipeline.servedSimple(socket, request, simple, bytes.length, start);
  }

  /** The Date field's value, made once a second (as node:http does). */
  #httpDate(): string {
    const now = Date.now();
    if (now >= this.#dateUntil) {
      this.#date = new Date(now).toUTCString();
      this.#dateUntil = now - (now % 1000) + 1000;
    }
    return this.#date;
  }
}

/** One connection while the lane has it. */
class LaneConnection {
  readonly socket: Socket;
  readonly #lane: FastLane;
  readonly #toNodeHttp: () => void;
  #answered = false;
  /** A response is being looked up; reading is paused meanwhile. */
  #waiting = false;
  /** The client half-closed (sent FIN). */
  #peerEnded = false;

  constructor(socket: Socket, lane: FastLane, toNodeHttp: () => void) {
    this.socket = socket;
    this.#lane = lane;
    this.#toNodeHttp = toNodeHttp;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('timeout', this.#onTimeout);
    // Partial heads go to node:http at once (and its header timeout); this bounds a connection that sends nothing.
    socket.setTimeout(lane.limits.headerTimeoutMs);
  }

  readonly #onData = (chunk: Buffer) => this.#lane.serve(this, chunk);
  /** The client is done sending: close once what it asked for is written. */
  readonly #onEnd = () => {
    this.#peerEnded = true;
    if (!this.#waiting) this.socket.end();
  };
  readonly #onError = () => this.socket.destroy();
  /** Idle past the keep-alive (or, before the first request, the header) timeout. */
  readonly #onTimeout = () => this.socket.destroy();

  /** After the first answer, the connection is an idle keep-alive one between requests. */
  answered(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.socket.setTimeout(this.#lane.limits.keepAliveTimeoutMs);
  }

  /** Reads wait until `answered` settles: true when the response went out, false to give `chunk` to node:http. */
  waitFor(answered: Promise<boolean>, chunk: Buffer): void {
    const socket = this.socket;
    socket.pause();
    this.#waiting = true;
    const settle = (sent: boolean) => {
      this.#waiting = false;
      if (socket.destroyed) return;
      if (!sent) this.handOver(chunk);
      else if (this.#peerEnded) socket.end();
      else if (!socket.writableNeedDrain) socket.resume();
    };
    // A failed lookup is the full path's to report (it looks again, logs and answers).
    answered.then(settle, () => settle(false));
  }

  /** node:http takes the connection for good, starting with `chunk`. */
  handOver(chunk: Buffer): void {
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('timeout', this.#onTimeout);
    socket.setTimeout(0);
    this.#toNodeHttp();
    // node:http reads through its parser from here; the read in hand is fed to that parser first.
    socket.emit('data', chunk);
    // A FIN that came while the lane had the connection is news to node:http too.
    if (this.#peerEnded) socket.emit('end');
    else if (socket.isPaused()) socket.resume();
  }
}
