/**
 * When to try again. Renewal is due when a third of a certificate's lifetime
 * is left (cert-info.ts); the manager also looks at every certificate twice a
 * day, and after a failure waits longer each time, up to a day — Let's
 * Encrypt's rate limits punish a client that hammers, and a day still leaves
 * weeks before a 90-day certificate runs out.
 *
 * Test hooks (environment, read once; see docs/https.md):
 *   KIRIN_TEST_ACME_RETRY_MS   first retry delay instead of one minute
 *   KIRIN_TEST_RENEW_AFTER_MS  renew this long after issuance instead of at a third left
 */
import type { ChallengeType } from './acme.ts';
import { renewalTime } from './cert-info.ts';

export const CHECK_INTERVAL_MS = 12 * 3600_000;
export const MAX_RETRY_DELAY_MS = 24 * 3600_000;
export const FIRST_RETRY_DELAY_MS = 60_000;
/** Another process holds the order lock: look again soon, without counting a failure. */
export const LOCK_BUSY_DELAY_MS = 30_000;

export interface ScheduleSettings {
  firstRetryDelayMs: number;
  /** When set, renewal is due this long after issuance (tests). */
  renewAfterMs: number | null;
}

export function scheduleSettingsFromEnv(env: NodeJS.ProcessEnv): ScheduleSettings {
  const retry = Number(env.KIRIN_TEST_ACME_RETRY_MS);
  const renew = Number(env.KIRIN_TEST_RENEW_AFTER_MS);
  return {
    firstRetryDelayMs: Number.isFinite(retry) && retry > 0 ? retry : FIRST_RETRY_DELAY_MS,
    renewAfterMs: Number.isFinite(renew) && renew > 0 ? renew : null,
  };
}

/** 1 min, 2, 4, 8 … up to a day, after the 1st, 2nd, 3rd … failure in a row. */
export function retryDelay(failures: number, settings: ScheduleSettings): number {
  return Math.min(MAX_RETRY_DELAY_MS, settings.firstRetryDelayMs * 2 ** Math.max(0, failures - 1));
}

export function renewAt(cert: { notBefore: number; notAfter: number; issuedAt: number }, settings: ScheduleSettings): number {
  if (settings.renewAfterMs !== null) return cert.issuedAt + settings.renewAfterMs;
  return renewalTime(cert.notBefore, cert.notAfter);
}

/**
 * HTTP-01 needs the CA to reach port 80, TLS-ALPN-01 port 443. Prefer HTTP-01
 * when Kirin listens for plain HTTP, and switch to the other kind after each
 * failure (a closed port 80 then costs one attempt, not all of them).
 */
export function challengeOrder(hasHttpListener: boolean, failures: number): ChallengeType[] {
  if (!hasHttpListener) return ['tls-alpn-01'];
  return failures % 2 === 0 ? ['http-01', 'tls-alpn-01'] : ['tls-alpn-01', 'http-01'];
}

export function formatDelay(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}
