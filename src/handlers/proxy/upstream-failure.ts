/**
 * What went wrong talking to an upstream, and what the client is told.
 *
 * The distinction that matters is whether the request may have reached the
 * upstream: a connect failure sent nothing (safe to try another target for
 * any method whose body is unread); a reset after sending may have been
 * acted on (only idempotent requests are tried again).
 */
import type { RequestContext } from '../../worker/context.ts';

/** What a failure's log line names of the request. */
export type FailedRequest = Pick<RequestContext, 'method' | 'target'>;

export type FailureKind = 'connect' | 'connect-timeout' | 'response-timeout' | 'reset' | 'bad-upgrade' | 'invalid-request' | 'other';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EACCES', 'ENOTSOCK', 'EAI_AGAIN', 'ENOTFOUND']);

export function failureKind(error: unknown): FailureKind {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'other';
  if (CONNECT_CODES.has(code)) return 'connect';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect-timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'response-timeout';
    case 'UND_ERR_SOCKET':
      // undici refuses a 101 to a request that did not ask to upgrade.
      return (error as Error).message === 'bad upgrade' ? 'bad-upgrade' : 'reset';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
      return 'reset';
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return 'invalid-request';
    default:
      return 'other';
  }
}

/** Nothing reached the upstream: another target (or a later try) is safe for any method. */
export function nothingSent(kind: FailureKind): boolean {
  return kind === 'connect' || kind === 'connect-timeout';
}

/** Counts against the target's passive health. */
export function isTargetFailure(kind: FailureKind): boolean {
  return kind === 'connect' || kind === 'connect-timeout' || kind === 'response-timeout' || kind === 'reset';
}

/** The status and the short page for the client. Internal addresses never appear in it. */
export function failurePage(kind: FailureKind): [status: number, detail: string] {
  switch (kind) {
    case 'connect':
      return [502, 'the upstream server could not be reached'];
    case 'connect-timeout':
      return [504, 'the upstream server did not accept the connection in time'];
    case 'response-timeout':
      return [504, 'the upstream server did not answer in time'];
    case 'reset':
      return [502, 'the upstream server closed the connection without answering'];
    case 'bad-upgrade':
      return [502, 'the upstream server switched protocols without being asked to'];
    case 'invalid-request':
      return [400, 'the request cannot be forwarded'];
    case 'other':
      return [502, 'the upstream server sent an invalid response'];
  }
}
