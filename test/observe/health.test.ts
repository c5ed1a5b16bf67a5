import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHealth, checkReady, type HealthSource } from '../../src/observe/health.ts';
import { FakeMaster } from './fake-master.ts';

const source = (m: FakeMaster) => m as unknown as HealthSource;

describe('/healthz and /readyz answers', () => {
  it('says yes when workers serve and nothing waits', () => {
    const master = new FakeMaster();
    assert.deepEqual(checkHealth(source(master)), { ok: true, reasons: [] });
    assert.deepEqual(checkReady(source(master)), { ok: true, reasons: [] });
  });

  it('is unhealthy without a serving worker', () => {
    const master = new FakeMaster();
    master.healthy = false;
    master.ready = false;
    master.workers = master.workers.map((w) => ({ ...w, state: 'booting' }));
    assert.deepEqual(checkHealth(source(master)), { ok: false, reasons: ['no worker is serving'] });
    const ready = checkReady(source(master));
    assert.equal(ready.ok, false);
    assert.ok(ready.reasons.includes('0 of 2 workers of generation 1 are ready'));
  });

  it('is not ready while a worker of the current generation boots, a service starts, or a site waits for its first certificate', () => {
    const master = new FakeMaster();
    master.ready = false;
    master.workers = [master.workers[0]!, { ...master.workers[1]!, state: 'booting' }];
    master.services = [{ name: 'django', pid: null, state: 'starting', restarts: 0, upstream: '' }];
    master.providers.certificates = () => [
      { names: ['a.test'], source: 'acme', issuer: '', notBefore: 0, notAfter: 0, renewAt: null, state: 'pending', lastError: null },
      { names: ['b.test'], source: 'acme', issuer: 'CA', notBefore: 0, notAfter: Date.now() + 86_400_000, renewAt: null, state: 'pending', lastError: null },
    ];
    const ready = checkReady(source(master));
    assert.deepEqual(ready.reasons, ['1 of 2 workers of generation 1 are ready', 'service "django" is starting', 'waiting for a certificate for a.test (pending)']);
    assert.equal(checkHealth(source(master)).ok, true, 'liveness does not depend on readiness');
  });

  it('stays ready during a reload: the next generation booting is not the current one', () => {
    const master = new FakeMaster();
    master.workers = [...master.workers, { pid: 99, generation: 2, index: 1, state: 'booting', uptimeMs: 0, rss: 0, served: 0, inflight: 0, websockets: 0, restarts: 0 }];
    assert.equal(checkReady(source(master)).ok, true);
  });
});
