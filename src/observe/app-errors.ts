/**
 * App errors leave the worker for the master (dashboard, alerts) as one small
 * message each: the error, its stack and the request, secrets removed here so
 * the master never holds them. This is the error path, not the request path,
 * and it is capped: a broken app answering thousands of 500s a second sends at
 * most REPORTS_PER_SECOND messages, and the next one says how many were dropped.
 */
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

const REPORTS_PER_SECOND = 10;
const MAX_STACK = 16_384;
const MAX_MESSAGE = 2_048;

let windowStart = 0;
let sentInWindow = 0;
let dropped = 0;

/** Sends the error to the master unless this second's cap is reached. */
export function forwardAppError(notify: Notify, ctx: ErrorRequest | null, error: unknown, now = Date.now()): void {
  if (now - windowStart >= 1000) {
    windowStart = now;
    sentInWindow = 0;
  }
  if (sentInWindow >= REPORTS_PER_SECOND) {
    dropped++;
    return;
  }
  sentInWindow++;
  let report: AppErrorReport;
  try {
    report = describeAppError(ctx, error, now);
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
    request: ctx === null
      ? null
      : {
          method: ctx.method,
          url: `${ctx.scheme}://${ctx.authority}${redactTarget(ctx.encodedPath + ctx.query)}`,
          client: ctx.clientIp,
          headers: redactHeaders(ctx.req.headers),
          site: ctx.site.plan.key,
          route: ctx.route.plan.at,
        },
    dropped: 0,
  };
}
