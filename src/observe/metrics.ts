/**
 * Metrics in the master: the workers' request counts added up (each heartbeat
 * carries the counts since the previous one, see worker-metrics.ts), and
 * /metrics written from those totals and the master's own facts.
 *
 * Totals live in the master, so counters keep counting when a worker is
 * replaced; a worker that dies loses at most its last second of counts.
 */
import type { MasterStatus } from '../master/master.ts';
import type { CertificateStatus, UpstreamStatus } from '../master/providers.ts';
import { writeDdnsMetrics } from '../ddns/metrics.ts';
import type { DdnsStatus } from '../ddns/updater.ts';
import { PrometheusText } from './prometheus-text.ts';
import { LATENCY_BUCKETS, type MetricsDelta } from './worker-metrics.ts';
import { VERSION } from '../version.ts';
import { writeRelayMetrics } from '../relay/metrics.ts';
import type { RelayStatus } from '../relay/stats.ts';

export class RequestTotals {
  /** "site\0route\0class" → count. */
  readonly requests = new Map<string, number>();
  readonly latency = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  latencySum = 0;
  latencyCount = 0;
  fastLane = 0;
  readonly reloads = { ok: 0, failed: 0 };

  add(delta: MetricsDelta): void {
    for (const r of delta.requests) {
      const key = `${r.site}\u0000${r.route}\u0000${r.status}`;
      this.requests.set(key, (this.requests.get(key) ?? 0) + r.count);
    }
    for (let i = 0; i < this.latency.length; i++) this.latency[i]! += delta.latency[i] ?? 0;
    this.latencySum += delta.latencySum;
    this.latencyCount += delta.latencyCount;
    this.fastLane += delta.fastLane;
  }

  get total(): number {
    let n = 0;
    for (const count of this.requests.values()) n += count;
    return n;
  }
}

/** A heartbeat's `metrics` field, checked: it crossed a process boundary. */
export function asMetricsDelta(value: unknown): MetricsDelta | null {
  if (typeof value !== 'object' || value === null) return null;
  const d = value as Partial<MetricsDelta>;
  if (!Array.isArray(d.requests) || !Array.isArray(d.latency)) return null;
  if (typeof d.latencySum !== 'number' || typeof d.latencyCount !== 'number' || typeof d.fastLane !== 'number') return null;
  if (!d.requests.every((r) => typeof r === 'object' && r !== null && typeof r.count === 'number' && typeof r.site === 'string' && typeof r.route === 'string' && typeof r.status === 'string')) return null;
  return d as MetricsDelta;
}

/** Requests in a delta: all, and those answered 5xx. */
export function countDelta(delta: MetricsDelta): { requests: number; errors: number } {
  let requests = 0;
  let errors = 0;
  for (const r of delta.requests) {
    requests += r.count;
    if (r.status === '5xx') errors += r.count;
  }
  return { requests, errors };
}

export interface MetricsSources {
  status: MasterStatus;
  totals: RequestTotals;
  upstreams: Iterable<UpstreamStatus>;
  certificates: CertificateStatus[] | null;
  masterRss: number;
  ddns?: DdnsStatus | null;
  /** Only on a relay. */
  relay?: RelayStatus | null;
}

/** The whole /metrics page. Every family is always announced, so dashboards find it before it has samples. */
export function renderMetrics({ status, totals, upstreams, certificates, masterRss, ddns = null, relay }: MetricsSources): string {
  const out = new PrometheusText();
  out.family('kirin_build_info', 'gauge', 'Always 1; the version label says which Kirin runs.', [[{ version: VERSION }, 1]]);
  out.family('kirin_start_time_seconds', 'gauge', 'When the master started, in seconds since the epoch.', [[{}, status.startedAt / 1000]]);
  out.family('kirin_generation', 'gauge', 'The generation serving now (1, then one more per successful reload).', [[{}, status.generation]]);

  out.family(
    'kirin_http_requests_total',
    'counter',
    'HTTP requests answered, by site, route prefix and status class (1xx-5xx). Empty site and route: refused before a site matched (400, 421).',
    [...totals.requests].map(([key, count]) => {
      const [site = '', route = '', statusClass = ''] = key.split('\u0000');
      return [{ site, route, status_class: statusClass }, count] as const;
    }),
  );
  out.family('kirin_http_fast_lane_requests_total', 'counter', 'Of the requests answered, those the fast lane took: plain HTTP/1.1 GET or HEAD of a small static file in memory (ready bytes), or to a proxy route (relayed).', [[{}, totals.fastLane]]);
  out.histogram('kirin_http_request_duration_seconds', 'Time from the request head to the end of the response, all sites.', LATENCY_BUCKETS, totals.latency, totals.latencySum);
  out.family('kirin_http_requests_in_flight', 'gauge', 'Requests being handled right now, all workers (sent with each heartbeat).', [
    [{}, status.workers.reduce((n, w) => n + w.inflight, 0)],
  ]);

  const states = new Map<string, number>([['booting', 0], ['ready', 0], ['draining', 0]]);
  for (const w of status.workers) states.set(w.state, (states.get(w.state) ?? 0) + 1);
  out.family('kirin_workers', 'gauge', 'Worker processes by state.', [...states].map(([state, n]) => [{ state }, n] as const));
  out.family('kirin_worker_restarts_total', 'counter', 'Workers replaced, by reason: crash, watchdog (hung), max-requests, memory, uncaught-exception, boot-error.', Object.entries(status.restarts).map(([reason, n]) => [{ reason }, n] as const));
  out.family(
    'kirin_worker_resident_memory_bytes',
    'gauge',
    'Resident memory of each worker (from its last heartbeat).',
    status.workers.map((w) => [{ worker: w.index, pid: w.pid, generation: w.generation }, w.rss] as const),
  );
  out.family(
    'kirin_websockets_open',
    'gauge',
    'Open app WebSockets in each worker (from its last heartbeat); a draining worker keeps its own until the graceful timeout.',
    status.workers.map((w) => [{ worker: w.index, pid: w.pid, generation: w.generation }, w.websockets] as const),
  );
  out.family('kirin_master_resident_memory_bytes', 'gauge', 'Resident memory of the master process.', [[{}, masterRss]]);
  out.family('kirin_reloads_total', 'counter', 'Reloads (SIGHUP, kirin reload), by result: ok or failed (the old generation kept serving).', [
    [{ result: 'ok' }, totals.reloads.ok],
    [{ result: 'failed' }, totals.reloads.failed],
  ]);

  out.family('kirin_upstream_up', 'gauge', 'Health of each proxy upstream: 1 healthy, 0 down (active and passive checks in the workers).', [...upstreams].map((u) => [{ route: u.route, url: u.url }, u.healthy ? 1 : 0] as const));
  out.family('kirin_service_up', 'gauge', 'Services Kirin runs: 1 when running, 0 otherwise.', status.services.map((s) => [{ service: s.name }, s.state === 'running' ? 1 : 0] as const));

  const expiry = new Map<string, number>();
  for (const cert of certificates ?? []) {
    if (cert.notAfter <= 0) continue; // Not issued yet.
    for (const name of cert.names) expiry.set(name, Math.max(expiry.get(name) ?? 0, cert.notAfter));
  }
  out.family('kirin_certificate_expiry_timestamp_seconds', 'gauge', 'When the certificate for each name expires, in seconds since the epoch.', [...expiry].map(([name, at]) => [{ name }, at / 1000] as const));
  writeDdnsMetrics(out, ddns);
  if (relay) writeRelayMetrics(out, relay);
  return out.toString();
}
