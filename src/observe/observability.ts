/**
 * Health, metrics, the dashboard and alerts, attached to the master.
 *
 * Everything here runs in the master from events it already has: the workers'
 * heartbeats carry their request counts (once a second, whatever the traffic),
 * so the request path pays nothing for any of it. The admin listener starts
 * when the master starts ('starting') and stops with it ('finishing'). The
 * alert channels load with the first incident a configured `notify` is to
 * hear of: a master without alerts never holds them.
 */
import type { Master } from '../master/master.ts';
import { AdminServer, type AdminEndpoints } from './admin-server.ts';
import type { Alerter } from './alerts/alerter.ts';
import { alertsConfigured } from './alerts/configured.ts';
import { checkHealth, checkReady } from './health.ts';
import { IncidentWatcher } from './incidents.ts';
import { RequestTotals, asMetricsDelta, renderMetrics } from './metrics.ts';
import { RecentErrors } from './recent-errors.ts';
import { RequestHistory, SLOT_MS } from './request-history.ts';
import { buildStatus } from './status-api.ts';

export interface Observability {
  readonly admin: AdminServer;
  readonly totals: RequestTotals;
  readonly errors: RecentErrors;
}

export function attachObservability(master: Master): Observability {
  const totals = new RequestTotals();
  const history = new RequestHistory();
  const errors = new RecentErrors();
  const incidents = new IncidentWatcher(master);
  let alerter: Promise<Alerter> | null = null;
  const alerts = () => (alerter ??= import('./alerts/alerter.ts').then(({ Alerter }) => new Alerter({ notify: () => master.plan.notify, logger: master.logger })));
  incidents.on((incident) => errors.add(incident));
  // One promise: incidents reach the alerter in the order they happened.
  incidents.on((incident) => {
    if (alertsConfigured(master.plan.notify)) void alerts().then((a) => a.handle(incident));
  });

  master.on('metrics', (_worker: unknown, payload: unknown) => {
    const delta = asMetricsDelta(payload);
    if (!delta) return;
    totals.add(delta);
    history.add(delta);
  });

  const certificates = () => master.providers.certificates?.() ?? null;
  const endpoints: AdminEndpoints = {
    health: () => checkHealth(master),
    readiness: () => checkReady(master),
    metrics: () =>
      renderMetrics({ status: master.status(), totals, upstreams: master.providers.upstreams.values(), certificates: certificates(), masterRss: process.memoryUsage.rss(), ddns: master.providers.ddns?.() ?? null, relay: master.providers.relay?.() }),
    status: () =>
      buildStatus({
        status: master.status(),
        plan: master.plan,
        health: checkHealth(master),
        readiness: checkReady(master),
        totals,
        upstreams: master.providers.upstreams.values(),
        certificates: certificates(),
        history: { stepMs: SLOT_MS, points: history.points() },
        errors: errors.list(),
        ddns: master.providers.ddns?.() ?? null,
        relay: master.providers.relay?.() ?? null,
      }),
  };
  const admin = new AdminServer(endpoints, master.logger);

  let running = false;
  master.on('reload', (ok: boolean) => {
    totals.reloads[ok ? 'ok' : 'failed']++;
    // The new plan may move the admin listener or change its token.
    if (ok && running) void admin.update(master.plan.admin);
  });
  master.once('starting', () => {
    running = true;
    incidents.start();
    if (master.plan.admin) void admin.start(master.plan.admin);
  });
  master.once('finishing', () => {
    running = false;
    void admin.close();
    void alerter?.then((a) => a.close());
  });
  return { admin, totals, errors };
}
