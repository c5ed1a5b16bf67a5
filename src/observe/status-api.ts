/**
 * GET /api/status: everything the dashboard shows, in one JSON document. Only
 * what an operator needs to see — handler kinds and targets, never header
 * values, passwords or tokens from the config.
 */
import { hostname } from 'node:os';
import type { HandlerPlan, RoutePlan, ServePlan } from '../config/plan.ts';
import type { MasterStatus, WorkerStatus } from '../master/master.ts';
import type { CertificateStatus, UpstreamStatus } from '../master/providers.ts';
import type { DdnsStatus } from '../ddns/updater.ts';
import type { ServiceStatus } from '../master/services.ts';
import { VERSION } from '../version.ts';
import type { RelayStatus } from '../relay/stats.ts';
import type { HealthAnswer } from './health.ts';
import type { RequestTotals } from './metrics.ts';
import type { RecentError } from './recent-errors.ts';
import { redactUrl } from './redact.ts';
import type { HistoryPoint } from './request-history.ts';

export interface StatusDocument {
  now: number;
  version: string;
  host: string;
  master: { pid: number; startedAt: number; generation: number; targetWorkers: number; listeners: string[]; configFile: string | null; rss: number };
  health: HealthAnswer;
  readiness: HealthAnswer;
  workers: WorkerStatus[];
  totals: { requests: number; errors: number; inflight: number; restarts: MasterStatus['restarts']; reloads: { ok: number; failed: number } };
  sites: SiteView[];
  services: ServiceStatus[];
  upstreams: UpstreamStatus[];
  /** null when Kirin manages no certificates (no TLS). */
  certificates: CertificateStatus[] | null;
  history: { stepMs: number; points: HistoryPoint[] };
  errors: readonly RecentError[];
  /** null when the config has no ddns section. */
  ddns: DdnsStatus | null;
  /** null unless this Kirin is a relay. */
  relay: RelayStatus | null;
}

export interface SiteView {
  key: string;
  hosts: string[];
  tls: string;
  routes: { prefix: string; handler: string; target: string; middleware: string[] }[];
}

export interface StatusSources {
  status: MasterStatus;
  plan: ServePlan;
  health: HealthAnswer;
  readiness: HealthAnswer;
  totals: RequestTotals;
  upstreams: Iterable<UpstreamStatus>;
  certificates: CertificateStatus[] | null;
  history: { stepMs: number; points: HistoryPoint[] };
  errors: readonly RecentError[];
  ddns?: DdnsStatus | null;
  relay?: RelayStatus | null;
}

export function buildStatus(s: StatusSources, now = Date.now()): StatusDocument {
  let errors = 0;
  for (const [key, count] of s.totals.requests) if (key.endsWith('\u00005xx')) errors += count;
  return {
    now,
    version: VERSION,
    host: hostname(),
    master: {
      pid: s.status.pid,
      startedAt: s.status.startedAt,
      generation: s.status.generation,
      targetWorkers: s.status.targetWorkers,
      listeners: s.status.listeners,
      configFile: s.status.configFile,
      rss: process.memoryUsage.rss(),
    },
    health: s.health,
    readiness: s.readiness,
    workers: [...s.status.workers].sort((a, b) => b.generation - a.generation || a.index - b.index),
    totals: {
      requests: s.totals.total,
      errors,
      inflight: s.status.workers.reduce((n, w) => n + w.inflight, 0),
      restarts: s.status.restarts,
      reloads: { ...s.totals.reloads },
    },
    sites: s.plan.sites.map((site) => ({
      key: site.key,
      hosts: site.hosts,
      tls: site.tls.mode,
      routes: site.routes.map(describeRoute),
    })),
    services: s.status.services,
    upstreams: [...s.upstreams],
    certificates: s.certificates,
    history: s.history,
    errors: s.errors,
    ddns: s.ddns ?? null,
    relay: s.relay ?? null,
  };
}

function describeRoute(route: RoutePlan): SiteView['routes'][number] {
  const m = route.middleware;
  const middleware: string[] = [];
  if (m.allow) middleware.push('allow');
  if (m.deny) middleware.push('deny');
  if (m.auth) middleware.push('basic auth');
  if (m.rateLimit) middleware.push(`rate limit ${m.rateLimit.perSecond}/s`);
  if (m.headers) middleware.push('headers');
  if (m.compress) middleware.push('compress');
  if (m.stripPrefix) middleware.push(`strip ${m.stripPrefix}`);
  return { prefix: route.prefix, handler: route.handler.type, target: describeHandler(route.handler), middleware };
}

function describeHandler(handler: HandlerPlan): string {
  switch (handler.type) {
    case 'app':
      return handler.exportName === 'default' ? handler.module : `${handler.module}:${handler.exportName}`;
    case 'static':
      return handler.root;
    case 'proxy':
      return handler.service ? `service ${handler.service}` : handler.to.map(redactUrl).join(', ');
    case 'redirect':
      return `${handler.status} → ${handler.to}`;
    case 'respond':
      return String(handler.status);
  }
}
