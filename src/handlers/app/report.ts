/**
 * Where an app's errors go, whichever kind of app it is: a 500 (or `kirin
 * dev`'s error page) for the client, the stack in the worker's error log and,
 * capped, to the master (dashboard, alerts).
 */
import type { Duplex } from 'node:stream';
import { forwardAppError, forwardAppStatus } from '../../observe/app-errors.ts';
import type { CompileEnv, RequestContext, RouteHandler } from '../../worker/context.ts';
import { sendError, writeRawError } from '../../worker/error-response.ts';
import { BodyTooLargeError } from '../body-too-large.ts';

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
let errorPage: AppErrorPage | null = null;

export function setAppErrorPage(page: AppErrorPage): void {
  errorPage = page;
}

export function appErrorPage(): AppErrorPage | null {
  return errorPage;
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
  if (errorPage !== null) errorPage.show(ctx, error, false);
  else sendError(ctx.res, 500);
}

/** A 5xx the app sent itself is an app error too, with its request; one Kirin reported with its exception is not told twice. */
export function reportServerError(env: AppErrorSink): RouteHandler['answeredServerError'] {
  return (ctx, status) => {
    if (ctx.reachedHandler && !ctx.errorReported) forwardAppStatus(env.notify, ctx, status);
  };
}

/** An error of the app's WebSocket code: logged and told to the master; the worker carries on. */
export function reportSocketError(env: AppErrorSink, error: unknown): void {
  env.logger.error({ err: error }, 'the app threw an error in its WebSocket code');
  forwardAppError(env.notify, null, error);
}

/** The app failed while taking an upgrade: a 500 on the raw socket. */
export function failUpgrade(env: AppErrorSink, socket: Duplex, error: unknown): void {
  reportSocketError(env, error);
  writeRawError(socket, 500);
}
