/**
 * App errors leave the worker for the master (dashboard, alerts) as one small
 * message each: the error, its stack and the request, secrets removed here so
 * the master never holds them. A 5xx the app answered itself (its own error
 * handler: Express's, Fastify's, Koa's, Hono's `onError`) is an app error too,
 * reported with its request and status but without a stack: Kirin never saw
 * the exception. This is the error path, not the request path, and it is
 * capped: a broken app answering thousands of 500s a second sends a burst of
 * REPORTS_BURST messages, then REPORTS_PER_SECOND, and the next one sent says
 * how many were dropped.
 */
import { STATUS_CODES } from '../util/node-http.ts';
import { cut, redactHeaders, redactTarget } from './redact.ts';

/** What `env.notify('app-error', …)` carries; the master emits `worker-event:app-error`. */
export interface AppErrorReport {
  time: number;
  name: string;
  message: string;
  stack: string;
  /** null for an exception outside any request (a timer, an event handler). */
  request: {
    method: string;
    url: string;
    client: string;
    headers: Record<string, string>;
    site: string;
    route: string;
  } | null;
  /** Reports this worker dropped since the last one it sent (rate cap). */
  dropped: number;
  /**
   * Set when the app answered this 5xx itself and Kirin saw no exception: then
   * `name` is the status line ('500 Internal Server Error'), `message` and `stack` are empty.
   */
  status?: number;
}

/** The parts of a RequestContext a report needs. */
export interface ErrorRequest {
  method: string;
  scheme: string;
  authority: string;
  /** The normalized path as received (before stripPrefix) and the query. */
  encodedPath: string;
  query: string;
  clientIp: string;
  req: { headers: Record<string, string | string[] | undefined> };
  site: { plan: { key: string } };
  route: { plan: { at: string } };
}

export type Notify = (type: string, payload: unknown) => void;

/** A token bucket: a burst (a page whose every call fails) gets through whole; a flood is cut to the rate. */
const REPORTS_BURST = 30;
const REPORTS_PER_SECOND = 10;
const MAX_STACK = 16_384;
const MAX_MESSAGE = 2_048;

let tokens = REPORTS_BURST;
let refilledAt = 0;
let dropped = 0;

/** Sends the error to the master unless the cap is reached. */
export function forwardAppError(notify: Notify, ctx: ErrorRequest | null, error: unknown, now = Date.now()): void {
  forward(notify, now, () => describeAppError(ctx, error, now));
}

/** Sends a 5xx the app answered itself (no exception reached Kirin) to the master, under the same cap. */
export function forwardAppStatus(notify: Notify, ctx: ErrorRequest, status: number, now = Date.now()): void {
  forward(notify, now, () => describeAppStatus(ctx, status, now));
}

function forward(notify: Notify, now: number, describe: () => AppErrorReport): void {
  tokens = Math.min(REPORTS_BURST, tokens + ((now - refilledAt) * REPORTS_PER_SECOND) / 1000);
  refilledAt = now;
  if (tokens < 1) {
    dropped++;
    return;
  }
  tokens--;
  let report: AppErrorReport;
  try {
    report = describe();
  } catch {
    return; // A report must never turn one error into two.
  }
  report.dropped = dropped;
  dropped = 0;
  notify('app-error', report);
}

export function describeAppError(ctx: ErrorRequest | null, error: unknown, time = Date.now()): AppErrorReport {
  const isError = error instanceof Error;
  const name = isError ? error.name : typeof error;
  const message = cut(isError ? error.message : String(error), MAX_MESSAGE);
  const stack = cut(isError && typeof error.stack === 'string' ? error.stack : `${name}: ${message}`, MAX_STACK);
  return {
    time,
    name,
    message,
    stack,
    request: ctx === null ? null : describeRequest(ctx),
    dropped: 0,
  };
}

export function describeAppStatus(ctx: ErrorRequest, status: number, time = Date.now()): AppErrorReport {
  return { time, name: `${status} ${STATUS_CODES[status] ?? 'Server Error'}`, message: '', stack: '', request: describeRequest(ctx), dropped: 0, status };
}

function describeRequest(ctx: ErrorRequest): NonNullable<AppErrorReport['request']> {
  return {
    method: ctx.method,
    url: `${ctx.scheme}://${ctx.authority}${redactTarget(ctx.encodedPath + ctx.query)}`,
    client: ctx.clientIp,
    headers: redactHeaders(ctx.req.headers),
    site: ctx.site.plan.key,
    route: ctx.route.plan.at,
  };
}
