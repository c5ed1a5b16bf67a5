/**
 * Zero-downtime: reloads and recycling under constant load lose nothing —
 * no non-2xx, no reset, no refused connection.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startKirin, tempDir, ROOT } from '../support/kirin.ts';
import { describeLoad, startLoad } from '../../bench/lib/load.ts';

function project(): string {
  const dir = tempDir();
  copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
  return dir;
}

async function reloadsUnderLoad(keepAlive: boolean): Promise<void> {
  const dir = project();
  const kirin = await startKirin({ cwd: dir, args: ['serve', 'app.ts', '--workers', '2', '--bind', '127.0.0.1:0', '--access-log', 'off', '--state-dir', join(dir, 'state')] });
  try {
    const load = startLoad({ url: `${kirin.url}/`, concurrency: 20, connection: keepAlive ? 'keep-alive' : 'close', countHeader: 'x-worker-pid' });
    await load.waitForRequests(200);
    for (let i = 2; i <= 11; i++) {
      kirin.signal('SIGHUP');
      // The schedule: ten reloads one second apart.
      await delay(1000);
    }
    await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('reloaded: generation 11'), 30_000, 'generation 11');
    const result = await load.stop();
    assert.equal(result.failures, 0, `failures during reloads: ${describeLoad(result)}`);
    assert.ok(result.ok > 500, `only ${result.ok} requests completed`);
    assert.ok(Object.keys(result.byHeader).length >= 4, 'requests were served by several generations');
  } finally {
    await kirin.stop();
  }
}

describe('zero-downtime reload (SIGHUP) under load', () => {
  it('10 reloads with 20 keep-alive connections: zero failed requests', () => reloadsUnderLoad(true));
  it('10 reloads with a new connection per request: zero failed requests', () => reloadsUnderLoad(false));

  it('--max-requests 1000 recycles workers under load with zero failed requests', async () => {
    const dir = project();
    const kirin = await startKirin({
      cwd: dir,
      args: ['serve', 'app.ts', '--workers', '2', '--max-requests', '1000', '--max-requests-jitter', '100', '--bind', '127.0.0.1:0', '--access-log', 'off', '--state-dir', join(dir, 'state')],
    });
    try {
      const load = startLoad({ url: `${kirin.url}/`, concurrency: 20, countHeader: 'x-worker-pid' });
      await load.waitForRequests(200);
      const recycled = () => kirin.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('recycled (max-requests)')).length;
      await waitForCount(recycled, 6, 60_000);
      const result = await load.stop();
      assert.equal(result.failures, 0, `failures while recycling: ${describeLoad(result)}`);
      assert.ok(Object.keys(result.byHeader).length >= 4, 'several worker processes served');
    } finally {
      await kirin.stop();
    }
  });
});

async function waitForCount(count: () => number, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count() < n) {
    if (Date.now() > deadline) throw new Error(`only ${count()} of ${n} recycles within ${timeoutMs} ms`);
    await delay(100);
  }
}
