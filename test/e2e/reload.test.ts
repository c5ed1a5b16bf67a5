/**
 * Zero-downtime: reloads and recycling under constant load lose nothing —
 * no non-2xx, no reset, no refused connection.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startKirin, tempDir, writeFiles, ROOT } from '../support/kirin.ts';
import { describeLoad, startLoad } from '../../bench/lib/load.ts';

function project(): string {
  const dir = tempDir();
  copyFileSync(join(ROOT, 'test/fixtures/apps/pid-fetch.ts'), join(dir, 'app.ts'));
  return dir;
}

/** A site of one small static file: every request is the worker's fast lane's (src/worker/fast-lane.ts). */
function staticProject(): string {
  const dir = tempDir();
  writeFiles(dir, { 'kirin.config.json': JSON.stringify({ admin: false, sites: { '*': { '/': { static: './public' } } } }), 'public/index.html': '<h1>hello</h1>\n' });
  return dir;
}

async function reloadsUnderLoad(keepAlive: boolean, serves: 'app' | 'static' = 'app'): Promise<void> {
  const dir = serves === 'app' ? project() : staticProject();
  const what = serves === 'app' ? ['app.ts'] : [];
  const kirin = await startKirin({ cwd: dir, args: ['serve', ...what, '--workers', '2', '--bind', '127.0.0.1:0', '--access-log', 'off', '--state-dir', join(dir, 'state')] });
  const load = startLoad({ url: `${kirin.url}/`, concurrency: 20, connection: keepAlive ? 'keep-alive' : 'close', countHeader: serves === 'app' ? 'x-worker-pid' : undefined });
  try {
    await load.waitForRequests(200);
    for (let generation = 2; generation <= 11; generation++) {
      kirin.signal('SIGHUP');
      // The schedule: ten reloads one second apart. A HUP that arrives while a reload is still
      // starting is folded into the next one, so on a slow machine each waits for the one before.
      await Promise.all([delay(1000), kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith(`reloaded: generation ${generation} `), 30_000, `generation ${generation}`)]);
    }
    const result = await load.stop();
    assert.equal(result.failures, 0, `failures during reloads: ${describeLoad(result)}`);
    assert.ok(result.ok > 500, `only ${result.ok} requests completed`);
    if (serves === 'app') assert.ok(Object.keys(result.byHeader).length >= 4, 'requests were served by several generations');
  } finally {
    // Stopped on failure too: a load left running against a stopped server would keep the test process alive.
    await load.stop();
    await kirin.stop();
  }
}

describe('zero-downtime reload (SIGHUP) under load', () => {
  it('10 reloads with 20 keep-alive connections: zero failed requests', () => reloadsUnderLoad(true));
  it('10 reloads with a new connection per request: zero failed requests', () => reloadsUnderLoad(false));
  it('10 reloads while 20 keep-alive connections fetch a small static file (the fast lane): zero failed requests', () => reloadsUnderLoad(true, 'static'));

  it('--max-requests 1000 recycles workers under load with zero failed requests', async () => {
    const dir = project();
    const kirin = await startKirin({
      cwd: dir,
      args: ['serve', 'app.ts', '--workers', '2', '--max-requests', '1000', '--max-requests-jitter', '100', '--bind', '127.0.0.1:0', '--access-log', 'off', '--state-dir', join(dir, 'state')],
    });
    const load = startLoad({ url: `${kirin.url}/`, concurrency: 20, countHeader: 'x-worker-pid' });
    try {
      await load.waitForRequests(200);
      const recycled = () => kirin.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('recycled (max-requests)')).length;
      await waitForCount(recycled, 6, 60_000);
      const result = await load.stop();
      assert.equal(result.failures, 0, `failures while recycling: ${describeLoad(result)}`);
      assert.ok(Object.keys(result.byHeader).length >= 4, 'several worker processes served');
    } finally {
      await load.stop();
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
