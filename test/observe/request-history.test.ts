import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestHistory, SLOT_MS, WINDOW_MS, quantile } from '../../src/observe/request-history.ts';
import { WorkerMetrics } from '../../src/observe/worker-metrics.ts';

function delta(statuses: number[], ms: number) {
  const w = new WorkerMetrics();
  for (const status of statuses) w.done(null, null, status, ms);
  return w.drain()!;
}

describe('request history (the dashboard charts)', () => {
  const t0 = 1_700_000_000_000; // a multiple of 5 s

  it('turns heartbeats into per-second rates over 5-second slots, 15 minutes long', () => {
    const history = new RequestHistory();
    history.add(delta([200, 200, 200, 500], 10), t0 + 1000);
    history.add(delta([200, 200, 200, 200, 200, 500], 10), t0 + 4000);
    const points = history.points(t0 + SLOT_MS + 1);
    assert.equal(points.length, WINDOW_MS / SLOT_MS - 1);
    const last = points.at(-1)!;
    assert.equal(last.t, t0);
    assert.equal(last.rate, 2);
    assert.equal(last.errorRate, 0.4);
    assert.ok(last.avgMs !== null && Math.abs(last.avgMs - 10) < 1e-9);
    assert.equal(points.at(-2)!.rate, 0);
    assert.equal(points.at(-2)!.avgMs, null);
  });

  it('leaves the slot in progress out, and forgets what is older than 15 minutes', () => {
    const history = new RequestHistory();
    history.add(delta([200], 1), t0);
    assert.equal(history.points(t0 + 10).reduce((n, p) => n + p.rate, 0), 0, 'the current slot is not finished');
    assert.equal(history.points(t0 + SLOT_MS).at(-1)!.rate, 0.2);
    const later = t0 + WINDOW_MS;
    assert.equal(history.points(later).reduce((n, p) => n + p.rate, 0), 0);
    // The ring slot is reused: old counts must not leak into the new slot.
    history.add(delta([200, 200], 1), later);
    assert.equal(history.points(later + SLOT_MS).at(-1)!.rate, 0.4);
  });

  it('estimates quantiles like histogram_quantile', () => {
    const bounds = [0.1, 1];
    assert.equal(quantile(0.5, [10, 0, 0], bounds), 0.05);
    assert.equal(quantile(0.95, [0, 10, 0], bounds), 0.1 + 0.9 * 0.95);
    assert.equal(quantile(0.95, [0, 0, 5], bounds), 1, 'beyond the last bound: the last bound');
    assert.ok(Number.isNaN(quantile(0.5, [0, 0, 0], bounds)));
  });
});
