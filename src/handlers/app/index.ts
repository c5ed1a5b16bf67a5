/**
 * The `app` handler: runs the user's fetch handler or Node listener.
 *
 * The app sees the normalized URL and Kirin's view of the client in the
 * X-Forwarded-* headers (the pipeline arranged that) — so the app and Kirin's
 * guards agree on what was asked for, and by whom.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer } from '../../util/node-http.ts';
import type { AppHandlerPlan } from '../../config/plan.ts';
import { KirinError } from '../../errors.ts';
import type { CompileEnv, RequestContext, RouteHandler } from '../../worker/context.ts';
import { closeAppServer } from '../../worker/app-listen.ts';
import { writeRawError } from '../../worker/error-response.ts';
import { forwardNow } from '../../worker/incoming.ts';
import { createBunWebSockets } from './bun-websocket.ts';
import { isThenable, loadApp, type LoadedApp, type NodeListener } from './load.ts';
import { appErrorPage, reportAppError, reportServerError, reportSocketError, type AppErrorSink } from './report.ts';
import { clusterSocketIO } from './socket-io.ts';
import { emitUpgrade } from './upgrade.ts';
import { mayRedirect, routedByGate } from '../../worker/sticky/gate.ts';
import { foreignOwner } from '../../worker/sticky/session-id.ts';
import type { Logger } from '../../observe/log.ts';


/** One import (and one `setup` call) per module and export, however many routes use it. */
const loaded = new Map<string, Promise<LoadedApp>>();

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
    const page = appErrorPage();
    if (page === null) throw error;
    // What the module itself threw (a SyntaxError with its position), not Kirin's wrapper.
    const shown = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const hint = error instanceof KirinError ? (error.detail ?? null) : null;
    page.failedToLoad(shown, hint);
    return { handle: (ctx) => page.show(ctx, shown, true, hint) };
  }
  const maxBody = env.route.middleware.maxBodyBytes;
  if (resolved.kind === 'fetch') {
    // Request and Response are Node's undici: loaded for a fetch app only (fetch-handler.ts).
    const { fetchHandler, installLightResponse } = await import('./fetch-handler.ts');
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


function nodeHandler(listener: NodeListener, env: AppErrorSink, server: Server | null, sticky: boolean): RouteHandler {
  const redirectsForeignSessions = sticky && server !== null;
  return {
    // Express, Koa … read the body and watch 'close' on the request itself.
    exposesNodeRequest: true,
    sessionOwner: redirectsForeignSessions ? forwardedSessionOwner : undefined,
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
 * A Socket.IO request of another worker's session that the sticky gate does
 * not route (TLS, HTTP/2, PROXY protocol listeners): its worker, where the
 * pipeline forwards it. 0 for a connection the gate routes (handle() answers
 * its later requests with redirectToOwner).
 */
function forwardedSessionOwner(ctx: RequestContext): number {
  const owner = foreignOwner(ctx.query);
  if (owner === 0 || ctx.req.httpVersionMajor === 2) return owner;
  return routedByGate(ctx.req.socket as Socket) ? 0 : owner;
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



