/**
 * HTTP for the providers: every request has a deadline and a User-Agent, and
 * never follows redirects (a redirect would carry the credentials elsewhere).
 * Failures to reach the provider become a 'retry' result with a plain reason.
 */
import { VERSION } from '../../version.ts';
import type { SecretReader } from '../credentials.ts';
import type { NameResult } from './provider.ts';

/** Update APIs answer in well under a second; 15 s covers a slow uplink. */
export const PROVIDER_TIMEOUT_MS = 15_000;
const MAX_BODY_BYTES = 1024 * 1024;

/** No-IP's format for software clients: "Company NameOfProgram/OSVersion-ReleaseVersion". */
export const USER_AGENT = `Kirin kirin-ddns/${process.platform}-${VERSION}`;

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

export async function providerRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string }, signal: AbortSignal, timeoutMs = PROVIDER_TIMEOUT_MS): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { 'user-agent': USER_AGENT, ...init.headers },
    body: init.body,
    redirect: 'error',
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text: text.length > MAX_BODY_BYTES ? text.slice(0, MAX_BODY_BYTES) : text };
}

/** A request that did not get an answer: timeout or network error, both passing. */
export function unreachable(error: unknown, what: string, timeoutMs = PROVIDER_TIMEOUT_MS): Omit<NameResult, 'name'> {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return { status: 'retry', code: 'timeout', message: `${what} did not answer within ${timeoutMs / 1000} s` };
  if (err.name === 'AbortError') return { status: 'retry', code: 'aborted', message: `the request to ${what} was stopped (Kirin is stopping)` };
  const detail = err.cause?.code ?? err.cause?.message ?? err.message;
  return { status: 'retry', code: 'network', message: `cannot reach ${what}: ${detail}` };
}

/** Retry-After in seconds or as an HTTP date; null when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const value = headers.get('retry-after');
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** A request that got no answer, in the words of a NameResult. */
export type NoAnswer = Omit<NameResult, 'name'>;

/** What the HTTP providers share: the plan, the credentials, the API's host for messages, and requests with one deadline. */
export abstract class HttpProvider<P extends { server: string }> {
  readonly target: string;
  protected readonly plan: P;
  protected readonly secret: SecretReader;
  readonly #timeoutMs: number;

  constructor(plan: P, secret: SecretReader, options: { timeoutMs?: number } = {}) {
    this.plan = plan;
    this.secret = secret;
    this.#timeoutMs = options.timeoutMs ?? PROVIDER_TIMEOUT_MS;
    this.target = hostOf(plan.server);
  }

  /** The answer; or, when none came (timeout, network), the 'retry' result to report. */
  protected async send(url: string, init: Parameters<typeof providerRequest>[1], signal: AbortSignal): Promise<HttpAnswer | NoAnswer> {
    try {
      return await providerRequest(url, init, signal, this.#timeoutMs);
    } catch (error) {
      return unreachable(error, this.target, this.#timeoutMs);
    }
  }
}

export function isAnswer(value: HttpAnswer | NoAnswer): value is HttpAnswer {
  return 'text' in value;
}
