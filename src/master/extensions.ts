/**
 * The parts of the master beyond supervision, attached at start: the admin
 * listener (health, metrics, dashboard), certificates, alerts, the shared
 * rate-limit buckets. Each gets the master's events and status; none of them
 * handles a request (rate limits answer workers' questions over IPC).
 */
import type { Master } from './master.ts';
import { attachObservability } from '../observe/observability.ts';
import { attachRateLimits } from './rate-limit.ts';
import { attachCertificates } from '../tls/master-hook.ts';
import { attachDdns } from '../ddns/extension.ts';
import { attachRelay } from '../relay/master-hook.ts';

export function attachMasterExtensions(master: Master): void {
  attachRateLimits(master);
  attachObservability(master);
  attachCertificates(master);
  attachDdns(master);
  attachRelay(master);
}
