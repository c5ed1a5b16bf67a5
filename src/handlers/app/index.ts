/**
 * The `app` handler: runs the user's fetch handler or Node listener.
 *
 * The app sees the normalized URL and Kirin's view of the client in the
 * X-Forwarded-* headers (the pipeline arranged that) — so the app and Kirin's
 * guards agree on what was asked for, and by whom.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../../util/node-http.ts';
import type { Duplex } from 'node:stream';
import type { AppHandlerPlan } from '../../config/plan.ts';
import { KirinError } from '../../errors.ts';
import { forwardAppError, forwardAppStatus } from '../../observe/app-errors.ts';
import type { CompileEnv, RequestContext, RouteHandler } from '../../worker/context.ts';
import { closeAppServer } from '../../worker/app-listen.ts';
import { sendError, writeRawError } from '../../worker/error-response.ts';
import { forwardNow } from '../../worker/incoming.ts';
import { responseOnSocket } from '../../worker/pipeline.ts';
import { webSockets } from '../../worker/websockets.ts';
import { createBunWebSockets, type BunWebSockets, type UpgradeOptions } from './bun-websocket.ts';
import { BodyTooLargeError, LazyRequest } from './lazy-request.ts';
import { installLightResponse, NativeResponse } from './light-response.ts';
import { isThenable, loadApp, type FetchHandler, type FetchInfo, type LoadedApp, type NodeListener } from './load.ts';
import { writeResponse } from './write-response.ts';
import { clusterSocketIO } from './socket-io.ts';
import { mayRedirect } from '../../worker/sticky/gate.ts';
import { foreignOwner } from '../../worker/sticky/session-id.ts';
import type { Logger } from '../../observe/log.ts';

/** One import (and one `setup` call) per module and export, however many routes use it. */
const loaded = new Map<string, Promise<LoadedApp>>();

/**
 * `kirin dev`'s error page (src/dev/worker.ts sets it): an app that fails to
 * load serves it on every request instead of failing the worker, and an app
 * error gets it instead of a bare 500. Null under `kirin serve`.
 */
export interface AppErrorPage {
  /** The app could not be imported: said once, when it happens; `hint` names a likely fix. */
  failedToLoad(error: unknown, hint: string | null): void;
  show(ctx: RequestContext, error: unknown, failedToLoad: boolean, hint?: string | null): void;
}
let showErrorPage: AppErrorPage | null = null;

export function setAppErrorPage(page: AppErrorPage): void {
  showErrorPage = page;
}

export async function createAppHandler(plan: AppHandlerPlan, env: CompileEnv): Promise<RouteHandler> {
  const key = `${plan.module}\0${plan.exportName}`;
  let app = loaded.get(key);
  if (!app) {
    const socketIoModule = env.plan.sticky ? plan.module : null;
    // --timeout bounds the wait for an app that listens late, as it bounds a hung request (0 = off: the master's boot timeout).
    app = loadApp(plan.module, plan.exportName, { listenWaitMs: env.plan.timeoutMs > 0 ? env.plan.timeoutMs : 60_000 }).then((loadedApp) => prepareServer(loadedApp, socketIoModule, env.logger));
    loaded.set(key, app);
  }
  let resolved: LoadedApp;
  try {
    resolved = await app;
  } catch (error) {
    const page = showErrorPage;
    if (page === null) throw error;
    // What the module itself threw (a SyntaxError with its position), not Kirin's wrapper.
    const shown = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const hint = error instanceof KirinError ? (error.detail ?? null) : null;
    page.failedToLoad(shown, hint);
    return { handle: (ctx) => page.show(ctx, shown, true, hint) };
  }
  const maxBody = env.route.middleware.maxBodyBytes;
  if (resolved.kind === 'fetch') {
    installLightResponse();
    const bun = resolved.websocket ? await createBunWebSockets(resolved.websocket, env.route.websocket.maxMessageBytes, (error) => reportSocketError(env, error)) : null;
    return fetchHandler(resolved.fetch, maxBody, env, resolved.server ?? null, bun);
  }
  return nodeHandler(resolved.listener, env, resolved.server ?? null, env.plan.sticky);
}

/**
 * An app with a `setup(server)` export gets an `http.Server` of its own that
 * never listens: Kirin's listeners accept, and its 'request' and 'upgrade'
 * events carry what Kirin routed to the app. `new WebSocketServer({ server })`,
 * Socket.IO's `new Server(server)` and `server.on('upgrade')` work on it as written.
 */
async function prepareServer(app: LoadedApp, socketIoModule: string | null, logger: Logger): Promise<LoadedApp> {
  if (app.setup === undefined || app.server !== undefined) return app;
  const server = app.kind === 'node' ? createServer(app.listener) : createServer();
  // With `sticky`, a Socket.IO server the app attaches here works across workers (socket-io.ts).
  if (socketIoModule !== null) clusterSocketIO(socketIoModule, server, logger);
  await app.setup(server);
  app.server = server;
  return app;
}


/** A 5xx the app sent itself is an app error too, with its request; one Kirin reported with its exception is not told twice. */
function reportServerError(env: AppErrorSink): RouteHandler['answeredServerError'] {
  return (ctx, status) => {
    if (ctx.reachedHandler && !ctx.errorReported) forwardAppStatus(env.notify, ctx, status);
  };
}

function nodeHandler(listener: NodeListener, env: AppErrorSink, server: Server | null, sticky: boolean): RouteHandler {
  const redirectsForeignSessions = sticky && server !== null;
  return {
    // Express, Koa … read the body and watch 'close' on the request itself.
    exposesNodeRequest: true,
    answeredServerError: reportServerError(env),
    handle(ctx) {
      const req = ctx.req as IncomingMessage;
      if (redirectsForeignSessions && redirectToOwner(req, ctx.res as ServerResponse)) return;
      if (req.url !== ctx.target) req.url = ctx.target;
      // Before the app runs: Express replaces the request's prototype, and with it Kirin's lazy X-Forwarded-* view.
      forwardNow(req);
      try {
        // Socket.IO and others replace the server's 'request' listeners: with a server, its listeners are the app.
        if (server === null) {
          // An async listener's exception arrives as a rejected promise: the same app error as a thrown one.
          const result = listener(req, ctx.res as ServerResponse) as unknown;
          if (isThenable(result)) result.then(undefined, (error: unknown) => reportAppError(env, ctx, error));
        } else {
          // server.setTimeout(ms): Node arms it on each connection of the server; here, on the one this request came on.
          if (server.timeout > 0) ctx.res.setTimeout(server.timeout);
          server.emit('request', req, ctx.res);
        }
      } catch (error) {
        reportAppError(env, ctx, error);
      }
    },
    upgrade(ctx, socket, head) {
      if (server === null || server.listenerCount('upgrade') === 0) {
        writeRawError(socket, 501, 'the app does not take WebSockets (export setup(server) and attach them to that server)');
        return;
      }
      emitUpgrade(server, ctx, socket, head);
    },
    // A server the app listened on emits 'close' when the worker drains (worker/app-listen.ts); nothing else is closed.
    close: () => (server === null ? undefined : closeAppServer(server)),
  };
}

/**
 * A Socket.IO request of another worker's session on a kept-alive connection
 * (the sticky gate looks only at a connection's first request): 307 to the
 * same target, on a new connection, which the gate routes to the session's
 * worker. Browsers and socket.io-client repeat a 307 with its method and body.
 */
function redirectToOwner(req: IncomingMessage, res: ServerResponse): boolean {
  const target = req.url ?? '';
  // Only a path on this host: '//host/…' would be an open redirect.
  if (target.charCodeAt(0) !== 47 || target.charCodeAt(1) === 47 || target.charCodeAt(1) === 92) return false;
  if (foreignOwner(target) === 0 || !mayRedirect(req.socket)) return false;
  res.writeHead(307, { location: target, connection: 'close', 'content-length': 0 });
  res.end();
  return true;
}

/** Hands an upgrade Kirin admitted to the app's server, as Node would have. */
function emitUpgrade(server: Server, ctx: RequestContext, socket: Duplex, head: Buffer): void {
  if (!webSockets.admit(ctx, socket)) return;
  const req = ctx.req as IncomingMessage;
  if (req.url !== ctx.target) req.url = ctx.target;
  server.emit('upgrade', req, socket, head);
}

class Info implements FetchInfo {
  readonly #ctx: RequestContext;
  /** Set on an upgrade request of an app with `websocket` handlers: then `upgrade()` may accept it. */
  readonly #bun: BunWebSockets | null;
  /** What the app passed to `upgrade()`, once it did. */
  upgradeOptions: UpgradeOptions | null = null;
  constructor(ctx: RequestContext, bun: BunWebSockets | null = null) {
    this.#ctx = ctx;
    this.#bun = bun;
  }
  /** Bun's `server.upgrade(request, { data, headers })`: true when this request becomes a WebSocket once fetch returns. */
  upgrade(_request: Request, options?: UpgradeOptions): boolean {
    if (this.#bun === null || this.upgradeOptions !== null) return false;
    this.upgradeOptions = options ?? {};
    return true;
  }
  /** Bun's `server.publish(topic, message)`: to every subscriber in this worker. */
  publish(topic: string, message: string | ArrayBufferView | ArrayBuffer): number {
    return this.#bun?.publish(topic, message, null) ?? 0;
  }
  /** Bun's `server.requestIP(request)`. */
  requestIP(): { address: string; port: number; family: string } {
    const address = this.#ctx.clientIp;
    return { address, port: this.#ctx.req.socket?.remotePort ?? 0, family: address.includes(':') ? 'IPv6' : 'IPv4' };
  }
  get remoteAddr() {
    return { hostname: this.#ctx.clientIp, port: this.#ctx.req.socket?.remotePort ?? 0, transport: 'tcp' as const };
  }
  get incoming() {
    return this.#ctx.req as IncomingMessage;
  }
  get outgoing() {
    return this.#ctx.res as ServerResponse;
  }
}

function fetchHandler(fetch: FetchHandler, maxBody: number, env: AppErrorSink, server: Server | null, bun: BunWebSockets | null): RouteHandler {
  return {
    answeredServerError: reportServerError(env),
    upgrade(ctx, socket, head) {
      if (server !== null && server.listenerCount('upgrade') > 0) {
        emitUpgrade(server, ctx, socket, head);
        return;
      }
      if (bun === null) {
        writeRawError(socket, 501, 'the app does not take WebSockets (export websocket handlers beside fetch)');
        return;
      }
      if (!webSockets.admit(ctx, socket)) return;
      const info = new Info(ctx, bun);
      const answer = (response: unknown) => {
        if (info.upgradeOptions !== null) bun.accept(ctx.req as IncomingMessage, socket, head, info.upgradeOptions, ctx.clientIp);
        else if (response instanceof NativeResponse) void writeResponse(response, responseOnSocket(ctx.req as IncomingMessage, socket));
        else writeRawError(socket, 500);
      };
      try {
        const result = fetch(new LazyRequest(ctx, maxBody) as unknown as Request, info);
        if (isThenable(result)) result.then(answer, (error) => failUpgrade(env, socket, error));
        else answer(result);
      } catch (error) {
        failUpgrade(env, socket, error);
      }
    },
    handle(ctx) {
      const request = new LazyRequest(ctx, maxBody);
      let result: Response | Promise<Response>;
      try {
        result = fetch(request as unknown as Request, new Info(ctx, null));
      } catch (error) {
        reportAppError(env, ctx, error);
        return;
      }
      if (isThenable(result)) {
        ctx.res.once('close', () => {
          if (!ctx.res.writableFinished) request.abort(new Error('the client closed the connection'));
        });
        return Promise.resolve(result).then(
          (response) => send(response, ctx, env),
          (error) => reportAppError(env, ctx, error),
        );
      }
      return send(result, ctx, env);
    },
  };
}

function send(response: unknown, ctx: RequestContext, env: AppErrorSink): void | Promise<void> {
  if (!(response instanceof NativeResponse)) {
    reportAppError(env, ctx, new TypeError(`the fetch handler returned ${response === undefined ? 'undefined' : typeof response}, not a Response`));
    return;
  }
  try {
    const written = writeResponse(response, ctx.res);
    if (written) return written.catch((error) => reportAppError(env, ctx, error));
  } catch (error) {
    reportAppError(env, ctx, error);
  }
}


function failUpgrade(env: AppErrorSink, socket: Duplex, error: unknown): void {
  reportSocketError(env, error);
  writeRawError(socket, 500);
}

/** An error of the app's WebSocket code: logged and told to the master; the worker carries on. */
function reportSocketError(env: AppErrorSink, error: unknown): void {
  env.logger.error({ err: error }, 'the app threw an error in its WebSocket code');
  forwardAppError(env.notify, null, error);
}

/** Where an app error is told: the worker's log, and the master (dashboard, alerts). */
export type AppErrorSink = Pick<CompileEnv, 'logger' | 'notify'>;

/** A 500 for the client without the stack; the stack in the error log and, capped, to the master. */
export function reportAppError(env: AppErrorSink, ctx: RequestContext, error: unknown): void {
  if (error instanceof BodyTooLargeError) {
    sendError(ctx.res, 413, `the request body is larger than this route accepts`);
    return;
  }
  env.logger.error({ err: error, method: ctx.method, path: ctx.target, host: ctx.host, route: ctx.route.plan.at }, 'the app threw an error; answered 500');
  ctx.errorReported = true;
  forwardAppError(env.notify, ctx, error);
  // An app that answered, then failed (an async listener that rejects after res.end()): the client has its answer.
  if (ctx.res.writableEnded) return;
  if (showErrorPage !== null) showErrorPage.show(ctx, error, false);
  else sendError(ctx.res, 500);
}
