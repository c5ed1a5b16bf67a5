import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MasterStatus } from '../../src/master/master.ts';
import { RequestTotals, asMetricsDelta, renderMetrics } from '../../src/observe/metrics.ts';
import { LATENCY_BUCKETS, WorkerMetrics } from '../../src/observe/worker-metrics.ts';
import type { CompiledRoute, CompiledSite } from '../../src/worker/context.ts';
import { parsePrometheus, valueOf } from '../support/prometheus.ts';

function status(overrides: Partial<MasterStatus> = {}): MasterStatus {
  return {
    pid: 100,
    generation: 2,
    startedAt: 1_700_000_000_000,
    workers: [
      { pid: 201, generation: 2, index: 1, state: 'ready', uptimeMs: 1000, rss: 50_000_000, served: 10, inflight: 2, websockets: 3, restarts: 0 },
      { pid: 202, generation: 2, index: 2, state: 'ready', uptimeMs: 1000, rss: 60_000_000, served: 12, inflight: 1, websockets: 0, restarts: 1 },
      { pid: 150, generation: 1, index: 1, state: 'draining', uptimeMs: 9000, rss: 70_000_000, served: 99, inflight: 0, websockets: 0, restarts: 0 },
    ],
    targetWorkers: 2,
    listeners: ['http://127.0.0.1:8000'],
    reloads: 1,
    restarts: { crash: 2, watchdog: 1, 'max-requests': 3, memory: 0, 'uncaught-exception': 0, 'boot-error': 0 },
    configFile: null,
    services: [
      { name: 'django', pid: 300, state: 'running', restarts: 0, upstream: 'unix:/x.sock' },
      { name: 'queue', pid: null, state: 'failed', restarts: 4, upstream: '' },
    ],
    ...overrides,
  };
}

/** A site and route as WorkerMetrics reads them: one route object per route. */
const routes = new Map<string, [CompiledSite, CompiledRoute]>();
function at(site: string, route: string): [CompiledSite, CompiledRoute] {
  const key = `${site} ${route}`;
  if (!routes.has(key)) routes.set(key, [{ plan: { key: site } } as unknown as CompiledSite, { prefix: route } as unknown as CompiledRoute]);
  return routes.get(key)!;
}

/** Two workers' heartbeats, made by the real worker-side counter. */
function workerDeltas() {
  const a = new WorkerMetrics();
  a.done(...at('a.test', '/'), 200, 3);
  a.done(...at('a.test', '/'), 204, 7);
  a.done(...at('a.test', '/api/'), 503, 40);
  const b = new WorkerMetrics();
  b.done(...at('a.test', '/'), 200, 2000);
  b.fastLane();
  b.done(null, null, 421, 0.1);
  return [a.drain()!, b.drain()!];
}

describe('metrics aggregation', () => {
  it('adds up the workers deltas and renders every metric with its labels', () => {
    const totals = new RequestTotals();
    for (const delta of workerDeltas()) totals.add(asMetricsDelta(JSON.parse(JSON.stringify(delta)))!);
    totals.reloads.ok = 4;
    totals.reloads.failed = 1;
    const now = Date.now();
    const text = renderMetrics({
      status: status(),
      totals,
      upstreams: [
        { route: 'sites["a.test"]["/api/"]', url: 'http://127.0.0.1:9001', healthy: true, reportedBy: 201, since: now },
        { route: 'sites["a.test"]["/api/"]', url: 'http://127.0.0.1:9002', healthy: false, reportedBy: 202, since: now },
      ],
      certificates: [
        { names: ['a.test', 'www.a.test'], source: 'acme', issuer: 'Test CA', notBefore: 1_700_000_000_000, notAfter: 1_707_776_000_000, renewAt: 1_705_000_000_000, state: 'valid', lastError: null },
        { names: ['b.test'], source: 'acme', issuer: '', notBefore: 0, notAfter: 0, renewAt: null, state: 'pending', lastError: null },
      ],
      masterRss: 40_000_000,
    });
    const m = parsePrometheus(text);
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: 'a.test', route: '/', status_class: '2xx' }), 3);
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: 'a.test', route: '/api/', status_class: '5xx' }), 1);
    assert.equal(valueOf(m, 'kirin_http_requests_total', { site: '', route: '', status_class: '4xx' }), 1, 'refused before a site matched (421)');
    assert.equal(valueOf(m, 'kirin_http_fast_lane_requests_total'), 1);
    assert.equal(m.get('kirin_http_requests_total')!.metrics.length, 3);

    const latency = m.get('kirin_http_request_duration_seconds')!.metrics[0]!;
    assert.equal(Number(latency.count), 5);
    assert.equal(Number(latency.buckets!['0.005']), 2, '0.1 ms and 3 ms');
    assert.equal(Number(latency.buckets!['0.05']), 4, '… and 7 ms, 40 ms');
    assert.equal(Number(latency.buckets!['2.5']), 5, '… and 2 s');
    assert.equal(Object.keys(latency.buckets!).length, LATENCY_BUCKETS.length + 1);
    assert.ok(Math.abs(Number(latency.sum) - 2.0501) < 1e-9);

    assert.equal(valueOf(m, 'kirin_http_requests_in_flight'), 3);
    assert.equal(valueOf(m, 'kirin_workers', { state: 'ready' }), 2);
    assert.equal(valueOf(m, 'kirin_workers', { state: 'draining' }), 1);
    assert.equal(valueOf(m, 'kirin_workers', { state: 'booting' }), 0);
    assert.equal(valueOf(m, 'kirin_worker_restarts_total', { reason: 'crash' }), 2);
    assert.equal(valueOf(m, 'kirin_worker_restarts_total', { reason: 'watchdog' }), 1);
    assert.equal(valueOf(m, 'kirin_worker_restarts_total', { reason: 'max-requests' }), 3);
    assert.equal(valueOf(m, 'kirin_worker_resident_memory_bytes', { pid: '202' }), 60_000_000);
    assert.equal(valueOf(m, 'kirin_worker_resident_memory_bytes', { worker: '1', generation: '1' }), 70_000_000);
    assert.equal(valueOf(m, 'kirin_master_resident_memory_bytes'), 40_000_000);
    assert.equal(valueOf(m, 'kirin_reloads_total', { result: 'ok' }), 4);
    assert.equal(valueOf(m, 'kirin_reloads_total', { result: 'failed' }), 1);
    assert.equal(valueOf(m, 'kirin_upstream_up', { url: 'http://127.0.0.1:9001' }), 1);
    assert.equal(valueOf(m, 'kirin_upstream_up', { url: 'http://127.0.0.1:9002' }), 0);
    assert.equal(valueOf(m, 'kirin_service_up', { service: 'django' }), 1);
    assert.equal(valueOf(m, 'kirin_service_up', { service: 'queue' }), 0);
    assert.equal(valueOf(m, 'kirin_certificate_expiry_timestamp_seconds', { name: 'www.a.test' }), 1_707_776_000);
    assert.equal(valueOf(m, 'kirin_certificate_expiry_timestamp_seconds', { name: 'b.test' }), undefined, 'not issued yet');
    assert.equal(valueOf(m, 'kirin_generation'), 2);
    assert.equal(valueOf(m, 'kirin_start_time_seconds'), 1_700_000_000);
    assert.equal(valueOf(m, 'kirin_build_info'), 1);
  });

  it('announces every family even before there is anything to count', () => {
    const m = parsePrometheus(renderMetrics({ status: status({ workers: [], services: [] }), totals: new RequestTotals(), upstreams: [], certificates: null, masterRss: 1 }));
    for (const name of ['kirin_http_requests_total', 'kirin_upstream_up', 'kirin_certificate_expiry_timestamp_seconds', 'kirin_service_up', 'kirin_worker_resident_memory_bytes']) {
      assert.ok(m.has(name), `${name} is announced`);
    }
  });

  it('keeps counting across heartbeats (counters never go back)', () => {
    const totals = new RequestTotals();
    const w = new WorkerMetrics();
    w.done(...at('s', '/'), 200, 1);
    totals.add(w.drain()!);
    w.done(...at('s', '/'), 200, 1);
    w.done(...at('s', '/'), 200, 1);
    totals.add(w.drain()!);
    assert.equal(w.drain(), undefined, 'an idle worker sends no delta');
    assert.equal(totals.requests.get('s\u0000/\u00002xx'), 3);
    assert.equal(totals.total, 3);
  });

  it('refuses a heartbeat payload that is not a delta', () => {
    assert.equal(asMetricsDelta(null), null);
    assert.equal(asMetricsDelta({ requests: [], latency: 'x', latencySum: 0, latencyCount: 0, fastLane: 0 }), null);
    assert.equal(asMetricsDelta({ requests: [], latency: [], latencySum: '1', latencyCount: 0, fastLane: 0 }), null);
    assert.equal(asMetricsDelta({ requests: [{ site: 's', route: '/', status: '2xx', count: '1' }], latency: [], latencySum: 0, latencyCount: 0, fastLane: 0 }), null);
    assert.equal(asMetricsDelta({ requests: [], latency: [], latencySum: 0, latencyCount: 0 }), null, 'no fast-lane count');
    assert.notEqual(asMetricsDelta({ requests: [], latency: [], latencySum: 0, latencyCount: 0, fastLane: 0 }), null);
  });
});
