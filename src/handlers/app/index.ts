/**
 * The `app` handler: runs the user's fetch handler or Node listener.
 *
 * The app sees the normalized URL and Kirin's view of the client in the
 * X-Forwarded-* headers (the pipeline arranged that) — so the app and Kirin's
 * guards agree on what was asked for, and by whom.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppHandlerPlan } from '../../config/plan.ts';
import { forwardAppError } from '../../observe/app-errors.ts';
import type { CompileEnv, RequestContext, RouteHandler } from '../../worker/context.ts';
import { sendError } from '../../worker/error-response.ts';
import { BodyTooLargeError, LazyRequest } from './lazy-request.ts';
import { installLightResponse, NativeResponse } from './light-response.ts';
import { loadApp, type FetchHandler, type FetchInfo, type LoadedApp, type NodeListener } from './load.ts';
import { writeResponse } from './write-response.ts';

/** One import per module and export, however many routes use it. */
const loaded = new Map<string, Promise<LoadedApp>>();

/**
 * `kirin dev`'s error page (src/dev/worker.ts sets it): an app that fails to
 * load serves it on every request instead of failing the worker, and an app
 * error gets it instead of a bare 500. Null under `kirin serve`.
 */
export interface AppErrorPage {
  /** The app could not be imported: said once, when it happens. */
  failedToLoad(error: unknown): void;
  show(ctx: RequestContext, error: unknown, failedToLoad: boolean): void;
}
let showErrorPage: AppErrorPage | null = null;

export function setAppErrorPage(page: AppErrorPage): void {
  showErrorPage = page;
}

export async function createAppHandler(plan: AppHandlerPlan, env: CompileEnv): Promise<RouteHandler> {
  const key = `${plan.module}\0${plan.exportName}`;
  let app = loaded.get(key);
  if (!app) {
    app = loadApp(plan.module, plan.exportName);
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
    page.failedToLoad(shown);
    return { handle: (ctx) => page.show(ctx, shown, true) };
  }
  const maxBody = env.route.middleware.maxBodyBytes;
  if (resolved.kind === 'fetch') {
    installLightResponse();
    return fetchHandler(resolved.fetch, maxBody, env);
  }
  return nodeHandler(resolved.listener, env);
}

function nodeHandler(listener: NodeListener, env: AppErrorSink): RouteHandler {
  return {
    // Express, Koa … read the body and watch 'close' on the request itself.
    exposesNodeRequest: true,
    handle(ctx) {
      const req = ctx.req as IncomingMessage;
      if (req.url !== ctx.target) req.url = ctx.target;
      try {
        listener(req, ctx.res as ServerResponse);
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
    handle(ctx) {
      const request = new LazyRequest(ctx, maxBody);
      let result: Response | Promise<Response>;
      try {
        result = fetch(request as unknown as Request, new Info(ctx));
      } catch (error) {
        reportAppError(env, ctx, error);
        return;
      }
      if (result instanceof Promise || (typeof result === 'object' && result !== null && typeof (result as unknown as PromiseLike<Response>).then === 'function')) {
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
  forwardAppError(env.notify, ctx, error);
  if (showErrorPage !== null) showErrorPage.show(ctx, error, false);
  else sendError(ctx.res, 500);
}
