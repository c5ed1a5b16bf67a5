/**
 * /healthz and /readyz: the answers, with the reasons when the answer is no.
 *
 *   healthy  the master runs and at least one worker serves (liveness: restart me if not)
 *   ready    every worker of the current generation is ready, no site waits for its
 *            first certificate, every service runs (readiness: send me traffic)
 */
import type { Master } from '../master/master.ts';

export interface HealthAnswer {
  ok: boolean;
  reasons: string[];
}

export type HealthSource = Pick<Master, 'healthy' | 'ready' | 'status' | 'providers'>;

export function checkHealth(master: HealthSource): HealthAnswer {
  if (master.healthy) return { ok: true, reasons: [] };
  const serving = master.status().workers.some((w) => w.state === 'ready');
  return { ok: false, reasons: [serving ? 'the master is starting or stopping' : 'no worker is serving'] };
}

export function checkReady(master: HealthSource, now = Date.now()): HealthAnswer {
  const reasons = checkHealth(master).reasons;
  const status = master.status();
  const current = status.workers.filter((w) => w.generation === status.generation);
  const ready = current.filter((w) => w.state === 'ready').length;
  if (ready < status.targetWorkers) reasons.push(`${ready} of ${status.targetWorkers} workers of generation ${status.generation} are ready`);
  for (const service of status.services) {
    if (service.state !== 'running') reasons.push(`service "${service.name}" is ${service.state}`);
  }
  for (const cert of master.providers.certificates?.() ?? []) {
    // Waiting for its FIRST certificate: a renewal in progress still has a valid one.
    if ((cert.state === 'pending' || cert.state === 'failed') && !(cert.notAfter > now)) reasons.push(`waiting for a certificate for ${cert.names.join(', ')} (${cert.state}${cert.lastError ? `: ${cert.lastError}` : ''})`);
  }
  if (reasons.length === 0 && !master.ready) reasons.push('workers of the current generation are not all ready');
  return { ok: reasons.length === 0, reasons };
}
