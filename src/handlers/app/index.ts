/**
 * The `app` handler: runs the user's fetch handler or Node listener.
 *
 * The app sees the normalized URL and Kirin's view of the client in the
 * X-Forwarded-* headers (the pipeline arranged that) — so the app and Kirin's
 * guards agree on what was asked for, and by whom.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppHandlerPlan } from '../../config/plan.ts';
import { forwardAppError, forwardAppStatus } from '../../observe/app-errors.ts';
import type { CompileEnv, RequestContext, RouteHandler } from '../../worker/context.ts';
import { sendError } from '../../worker/error-response.ts';
import { forwardNow } from '../../worker/incoming.ts';
import { BodyTooLargeError, LazyRequest } from './lazy-request.ts';
import { installLightResponse, NativeResponse } from './light-response.ts';
import { isThenable, loadApp, type FetchHandler, type FetchInfo, type LoadedApp, type NodeListener } from './load.ts';
import { writeResponse } from './write-response.ts';

/** One import per module and export, however many routes use it. */
const loaded = new Map<string, Promise<LoadedApp>>();

export async function createAppHandler(plan: AppHandlerPlan, env: CompileEnv): Promise<RouteHandler> {
  const key = `${plan.module}\0${plan.exportName}`;
  let app = loaded.get(key);
  if (!app) {
    app = loadApp(plan.module, plan.exportName);
    loaded.set(key, app);
  }
  const resolved = await app;
  const maxBody = env.route.middleware.maxBodyBytes;
  if (resolved.kind === 'fetch') {
    installLightResponse();
    return fetchHandler(resolved.fetch, maxBody, env);
  }
  return nodeHandler(resolved.listener, env);
}

/** A 5xx the app sent itself is an app error too, with its request; one Kirin reported with its exception is not told twice. */
function reportServerError(env: AppErrorSink): RouteHandler['answeredServerError'] {
  return (ctx, status) => {
    if (!ctx.errorReported) forwardAppStatus(env.notify, ctx, status);
  };
}

function nodeHandler(listener: NodeListener, env: AppErrorSink): RouteHandler {
  return {
    // Express, Koa … read the body and watch 'close' on the request itself.
    exposesNodeRequest: true,
    answeredServerError: reportServerError(env),
    handle(ctx) {
      const req = ctx.req as IncomingMessage;
      if (req.url !== ctx.target) req.url = ctx.target;
      // Before the app runs: Express replaces the request's prototype, and with it Kirin's lazy X-Forwarded-* view.
      forwardNow(req);
      try {
        // An async listener's exception arrives as a rejected promise: the same app error as a thrown one.
        const result = listener(req, ctx.res as ServerResponse) as unknown;
        if (isThenable(result)) result.then(undefined, (error: unknown) => reportAppError(env, ctx, error));
      } catch (error) {
        reportAppError(env, ctx, error);
      }
    },
  };
}

class Info implements FetchInfo {
  readonly #ctx: RequestContext;
  constructor(ctx: RequestContext) {
    this.#ctx = ctx;
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

function fetchHandler(fetch: FetchHandler, maxBody: number, env: AppErrorSink): RouteHandler {
  return {
    answeredServerError: reportServerError(env),
    handle(ctx) {
      const request = new LazyRequest(ctx, maxBody);
      let result: Response | Promise<Response>;
      try {
        result = fetch(request as unknown as Request, new Info(ctx));
      } catch (error) {
        reportAppError(env, ctx, error);
        return;
      }
      if (result instanceof Promise || isThenable(result)) {
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
  if (!ctx.res.writableEnded) sendError(ctx.res, 500);
}
