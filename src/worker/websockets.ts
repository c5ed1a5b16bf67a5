/**
 * The app WebSockets open in this worker, and the limits Kirin holds them to
 * whatever library serves them (ws, Socket.IO, Kirin's own Bun-style API):
 *
 *  - origin: a page from another site is refused (403) before the app sees it;
 *  - connections per route: one more gets a handshake and close 1013 at once;
 *  - message size: the client's frame headers are scanned as they arrive
 *    (websocket-frames.ts); a message over the limit is not passed on and the
 *    client gets 1009;
 *  - idle: a client that sends nothing is pinged at half the idle timeout and
 *    closed with 1001 at the timeout;
 *  - drain: every socket gets 1001 before the graceful deadline.
 *
 * Kirin writes its own frames only from timers and 'data' events, never while
 * the app is writing one, and the libraries write each frame in one call, so a
 * Kirin frame never lands inside an app's frame.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketPlan } from '../config/plan.ts';
import type { RequestContext } from './context.ts';
import { writeRawError } from './error-response.ts';
import { acceptKey, ClientFrameScanner, closeFrame, PING_FRAME } from './websocket-frames.ts';

/** Close codes (RFC 6455 §7.4.1). */
export const CloseCode = {
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  TRY_AGAIN_LATER: 1013,
} as const;

const SWEEP_MS = 1000;
/** After Kirin's close frame, how long the client has to answer before the socket is cut. */
const CLOSE_ANSWER_MS = 2000;

class TrackedWebSocket {
  readonly socket: Duplex;
  readonly plan: WebSocketPlan;
  readonly routeKey: object;
  readonly scanner: ClientFrameScanner;
  /** Something arrived since the last sweep. */
  heard = true;
  lastHeard = Date.now();
  pinged = false;
  /** Kirin sent its close frame: nothing more from the client reaches the app. */
  closing = false;

  constructor(socket: Duplex, plan: WebSocketPlan, routeKey: object) {
    this.socket = socket;
    this.plan = plan;
    this.routeKey = routeKey;
    this.scanner = new ClientFrameScanner(plan.maxMessageBytes);
  }
}

export class WebSocketRegistry {
  readonly #open = new Map<Duplex, TrackedWebSocket>();
  readonly #perRoute = new Map<object, number>();
  #sweep: NodeJS.Timeout | null = null;
  /** Set while the worker drains: new upgrades are refused (503) so they land on the new generation. */
  refusing = false;

  /** Open WebSockets (and upgrades being answered) in this worker. */
  get count(): number {
    return this.#open.size;
  }

  has(socket: Duplex): boolean {
    return this.#open.has(socket);
  }

  /**
   * Checks an upgrade to `ctx.route` against its limits. Refused: Kirin has
   * answered and the socket is no longer the app's (false). Admitted: the
   * socket is watched until it closes (true).
   */
  admit(ctx: RequestContext, socket: Duplex): boolean {
    const plan = ctx.route.plan.websocket;
    const req = ctx.req as IncomingMessage;
    if (this.refusing) {
      writeRawError(socket, 503, 'this worker is shutting down; connect again');
      return false;
    }
    if (!originAllowed(plan.origins, req.headers.origin, ctx)) {
      writeRawError(socket, 403, `WebSockets from origin ${req.headers.origin} are not allowed on this route`);
      return false;
    }
    const routeKey = ctx.route;
    const open = this.#perRoute.get(routeKey) ?? 0;
    if (open >= plan.maxConnections) {
      refuseWithClose(req, socket, CloseCode.TRY_AGAIN_LATER, 'too many WebSockets on this server');
      return false;
    }
    this.#perRoute.set(routeKey, open + 1);
    const tracked = new TrackedWebSocket(socket, plan, routeKey);
    this.#open.set(socket, tracked);
    this.#watch(tracked);
    if (this.#sweep === null) {
      this.#sweep = setInterval(() => this.#sweepIdle(), SWEEP_MS);
      this.#sweep.unref();
    }
    return true;
  }

  /** Close code 1001 to every open WebSocket (the worker is going away); clients reconnect to the new generation. */
  goingAway(): void {
    for (const tracked of this.#open.values()) closeTracked(tracked, CloseCode.GOING_AWAY, 'server going away');
  }

  #watch(tracked: TrackedWebSocket): void {
    const socket = tracked.socket;
    // Whatever the app does with its error listeners, a socket error must never become an uncaught exception.
    socket.on('error', ignoreSocketError);
    socket.on('close', () => this.#forget(tracked));
    // Reading the 'data' events as they are emitted, rather than with a listener, leaves the stream's
    // flowing state to the app: a listener would start the flow before the app listens, and bytes would be lost.
    const emit = socket.emit;
    socket.emit = function (this: Duplex, event: string | symbol, chunk?: unknown) {
      if (event !== 'data') return Reflect.apply(emit, this, arguments);
      if (tracked.closing) return false;
      tracked.heard = true;
      if (!tracked.scanner.scan(chunk as Buffer)) {
        closeTracked(tracked, CloseCode.MESSAGE_TOO_BIG, 'message too big');
        return false;
      }
      // 'data' has one argument: a direct call, without spreading `arguments`, on every chunk.
      return emit.call(this, event, chunk);
    } as typeof socket.emit;
  }

  #forget(tracked: TrackedWebSocket): void {
    if (this.#open.get(tracked.socket) !== tracked) return;
    this.#open.delete(tracked.socket);
    const left = (this.#perRoute.get(tracked.routeKey) ?? 1) - 1;
    if (left > 0) this.#perRoute.set(tracked.routeKey, left);
    else this.#perRoute.delete(tracked.routeKey);
    if (this.#open.size === 0 && this.#sweep !== null) {
      clearInterval(this.#sweep);
      this.#sweep = null;
    }
  }

  #sweepIdle(): void {
    const now = Date.now();
    for (const tracked of this.#open.values()) {
      const idleMs = tracked.plan.idleTimeoutMs;
      if (tracked.heard) {
        tracked.heard = false;
        tracked.lastHeard = now;
        tracked.pinged = false;
        continue;
      }
      if (idleMs === 0 || tracked.closing) continue;
      const silent = now - tracked.lastHeard;
      if (silent >= idleMs) closeTracked(tracked, CloseCode.GOING_AWAY, 'idle timeout');
      else if (silent >= idleMs / 2 && !tracked.pinged && tracked.socket.writable) {
        tracked.pinged = true;
        tracked.socket.write(PING_FRAME);
      }
    }
  }
}

/** Kirin's close frame; the client answers with its own, and the socket is cut if it does not in time. */
function closeTracked(tracked: TrackedWebSocket, code: number, reason: string): void {
  if (tracked.closing) return;
  tracked.closing = true;
  const socket = tracked.socket;
  if (socket.writable) socket.end(closeFrame(code, reason));
  setTimeout(() => socket.destroy(), CLOSE_ANSWER_MS).unref();
}

/**
 * A WebSocket refused over a limit gets a close code the client library
 * reports (an HTTP error would surface as a bare 1006): the handshake, then
 * the close frame. Not a WebSocket handshake → 503.
 */
function refuseWithClose(req: IncomingMessage, socket: Duplex, code: number, reason: string): void {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    writeRawError(socket, 503, reason);
    return;
  }
  socket.on('error', ignoreSocketError);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
  socket.end(closeFrame(code, reason));
  setTimeout(() => socket.destroy(), CLOSE_ANSWER_MS).unref();
}

/** No Origin (not a browser) passes; a browser page passes when it is listed, or by default when it is this site. */
function originAllowed(allowed: WebSocketPlan['origins'], origin: string | undefined, ctx: RequestContext): boolean {
  if (origin === undefined || allowed === '*') return true;
  const lower = origin.toLowerCase();
  if (allowed === null) return lower === `${ctx.scheme}://${ctx.authority.toLowerCase()}`;
  return allowed.includes(lower);
}

function ignoreSocketError(): void {}

/** The worker's one registry: the app handler admits sockets, the worker drains and counts them. */
export const webSockets = new WebSocketRegistry();
