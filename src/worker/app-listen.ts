/**
 * Apps that call listen() themselves: `app.listen(3000)`, `http.createServer(app).listen(PORT)`,
 * `await fastify.listen({ port })`, NestJS's `app.listen`, Socket.IO's `io.listen`.
 *
 * node:cluster makes a worker's listen() go through the master; Kirin does the
 * same in spirit. In a worker, listen() on an HTTP server the app created does
 * not bind: Kirin records the server, fires its 'listening' event and callback as
 * a real bind would (apps log "listening on 3000", and some wait for it), and
 * hands each request Kirin's edge routed to the app to that server's own
 * 'request' listeners (`server.emit('request', req, res)`), its upgrades to its
 * 'upgrade' listeners. The port the app asked for is ignored — Kirin's --bind
 * decides — and the log says so once.
 *
 * Kirin's own listeners bind with `listenForReal`; servers that are not HTTP
 * (a raw net.Server, HTTP/2) are not Kirin's business and bind as written.
 */
import { Server as HttpServer } from '../util/node-http.ts';
import { Server as NetServer, type AddressInfo } from 'node:net';
import type { Logger } from '../observe/log.ts';

/** An HTTP server the app listened on, as Kirin serves it. */
export interface AppServer {
  readonly server: HttpServer;
  /** What the app asked for, for messages: "port 3000", "127.0.0.1:3000", "/tmp/app.sock". */
  readonly asked: string;
  readonly port: number | null;
}

/** Servers listened on while one module loads (load.ts), in the order the app listened. */
export class ListenSession {
  readonly servers: AppServer[] = [];
  #waiter: (() => void) | null = null;

  /** Resolves at the app's first listen(), at once if it already happened. */
  firstListen(): Promise<void> {
    if (this.servers.length > 0) return Promise.resolve();
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  add(server: AppServer): void {
    this.servers.push(server);
    this.#waiter?.();
    this.#waiter = null;
  }
}

interface CaptureOptions {
  /** What `server.address()` answers: Kirin's first listener, where clients really connect. */
  address: AddressInfo | string;
  /** Where clients connect, for the log: "http://127.0.0.1:8000". */
  servedAt: string;
  logger: Logger;
  /** Say "port ignored" at info level (one worker), the others at debug: once in the log, not once per worker. */
  announce: boolean;
}

const realListen = NetServer.prototype.listen;
let options: CaptureOptions | null = null;
let session: ListenSession | null = null;
const captured = new WeakSet<HttpServer>();

/** Binds one of Kirin's own servers, past the interception. */
export function listenForReal(server: NetServer, ...args: unknown[]): NetServer {
  return (realListen as (...a: unknown[]) => NetServer).apply(server, args);
}

/** From now on, listen() on an app's HTTP server in this process is captured (see the top of this file). */
export function interceptAppListens(capture: CaptureOptions): void {
  options = capture;
  NetServer.prototype.listen = function listen(this: NetServer, ...args: unknown[]) {
    if (!(this instanceof HttpServer || isHttpsServer(this))) return realListen.apply(this, args as Parameters<typeof realListen>);
    return captureListen(this as HttpServer, args);
  } as typeof realListen;
}

/**
 * Is it an https.Server? Asked without loading node:https (and node:tls) into
 * workers that have none: only a TLS server (which has `addContext`, and whose
 * app loaded node:tls already) can be one.
 */
function isHttpsServer(server: NetServer): boolean {
  return typeof (server as { addContext?: unknown }).addContext === 'function' && server instanceof process.getBuiltinModule('node:https').Server;
}

/** Collects the servers listened on from now until the session is replaced. */
export function startListenSession(): ListenSession | null {
  if (!options) return null;
  session = new ListenSession();
  return session;
}

export function endListenSession(ended: ListenSession): void {
  if (session === ended) session = null;
}

function captureListen(server: HttpServer, args: unknown[]): HttpServer {
  const capture = options!;
  const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as () => void) : null;
  if (callback) server.once('listening', callback);
  if (!captured.has(server)) {
    captured.add(server);
    pretendBound(server, capture.address);
    noteListen(capture, describeListen(server, args));
  }
  process.nextTick(() => server.emit('listening'));
  return server;
}

/** The first server a module listens on while it loads is the one Kirin serves for it; the log says what became of the others. */
function noteListen(capture: CaptureOptions, appServer: AppServer): void {
  const first = session?.servers[0] ?? null;
  if (session === null) {
    capture.logger.warn(
      { asked: appServer.asked },
      `the app listened on ${appServer.asked} after it had loaded; Kirin serves the server an app listens on while it loads (or its export), so this one gets no connections`,
    );
  } else if (first === null) {
    const log = capture.announce ? capture.logger.info.bind(capture.logger) : capture.logger.debug.bind(capture.logger);
    log({ asked: appServer.asked, servedAt: capture.servedAt }, `the app asked to listen on ${appServer.asked}; Kirin serves it on ${capture.servedAt} instead (--bind and the config decide where Kirin listens)`);
  } else if (appServer.port !== null && (appServer.port === first.port || appServer.port === portOf(capture.address))) {
    // The same service on another address (Fastify binds 127.0.0.1 and ::1 for "localhost"): nothing is lost.
    capture.logger.debug({ asked: appServer.asked }, 'the app listened on the same port again on another address; Kirin serves it once');
  } else {
    capture.logger.warn(
      { asked: appServer.asked, served: first.asked },
      `the app listened on a second HTTP server (${appServer.asked}); Kirin serves only the first one it listened on (${first.asked}), so this one gets no connections. ` +
        "To serve it too, export its handler and give it a route of its own in the config ({ app: './metrics.js:handler' }, config.md)",
    );
  }
  session?.add(appServer);
}

/**
 * What a bound server shows: its address, `listening`, and a close() whose
 * callback runs when the worker drains — the connections are Kirin's, so the
 * app's server is "closed" when Kirin has finished with them (app-server.md).
 */
function pretendBound(server: HttpServer, address: AddressInfo | string): void {
  let open = true;
  Object.defineProperties(server, {
    address: { configurable: true, value: () => (typeof address === 'string' ? address : { ...address }) },
    listening: { configurable: true, get: () => open },
    close: {
      configurable: true,
      value(this: HttpServer, callback?: (error?: Error) => void) {
        if (callback) this.once('close', () => callback());
        return this;
      },
    },
  });
  let closed: Promise<void> | null = null;
  closers.set(server, () => {
    open = false;
    // The class's own close stops http.Server's connection-checking timer and emits 'close' (no handle: nothing to unbind).
    closed ??= new Promise<void>((resolve) => {
      server.once('close', () => resolve());
      (Object.getPrototypeOf(server) as HttpServer).close.call(server);
    });
    return closed;
  });
}

const closers = new WeakMap<HttpServer, () => Promise<void>>();

/** The worker drains: the app's server emits 'close', so callbacks given to its close() run now. */
export function closeAppServer(server: HttpServer): Promise<void> {
  return closers.get(server)?.() ?? Promise.resolve();
}

function describeListen(server: HttpServer, args: unknown[]): AppServer {
  const first = args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const port = Number(first);
    const host = typeof args[1] === 'string' ? args[1] : null;
    return { server, port, asked: host ? `${host}:${port}` : `port ${port}` };
  }
  if (typeof first === 'string') return { server, port: null, asked: first };
  if (first !== null && typeof first === 'object') {
    const spec = first as { port?: unknown; host?: unknown; path?: unknown; fd?: unknown };
    if (typeof spec.path === 'string') return { server, port: null, asked: spec.path };
    if (spec.port !== undefined) {
      const port = Number(spec.port);
      return { server, port, asked: typeof spec.host === 'string' ? `${spec.host}:${port}` : `port ${port}` };
    }
    if (typeof spec.fd === 'number') return { server, port: null, asked: `descriptor ${spec.fd}` };
  }
  return { server, port: 0, asked: 'a port of its choice' };
}

function portOf(address: AddressInfo | string): number | null {
  return typeof address === 'string' ? null : address.port;
}

/** `server.address()` for Kirin's listener whose URL is `url` ("http://127.0.0.1:8000", "http://[::1]:80", "unix:/run/app.sock"). */
export function addressOfListener(url: string): AddressInfo | string {
  if (url.startsWith('unix:')) return url.slice('unix:'.length);
  try {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
    return { address: host, family: host.includes(':') ? 'IPv6' : 'IPv4', port };
  } catch {
    // A descriptor systemd passed ("http://(fd 3)"): where it is bound is not known here.
    return { address: '0.0.0.0', family: 'IPv4', port: 0 };
  }
}
