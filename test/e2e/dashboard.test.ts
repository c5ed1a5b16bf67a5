/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core):
 * it loads without console errors, shows the workers, sites, upstreams and the
 * last errors, and its workers table follows a worker that is killed and replaced.
 *
 * It takes a screenshot each run. KIRIN_UPDATE_SCREENSHOTS=1 writes it to
 * docs/images/dashboard.png, after a minute of varied traffic so the charts
 * have something to show.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startWithAdmin, type AdminKirin } from '../support/admin.ts';
import { request } from '../support/http.ts';
import { ROOT, tempDir, writeFiles } from '../support/kirin.ts';

const UPDATE = process.env.KIRIN_UPDATE_SCREENSHOTS === '1';

const APP = `export default {
  async fetch(request: Request) {
    const url = new URL(request.url);
    if (url.pathname === '/checkout') throw new Error('payment provider timed out');
    const ms = Number(url.searchParams.get('ms') ?? 0);
    if (ms) await new Promise((r) => setTimeout(r, ms));
    return new Response('hello');
  },
};
`;

describe('dashboard in Chromium', () => {
  let k: AdminKirin;
  let upstream: Server;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    upstream = createServer((_req, res) => res.end('api'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': APP,
      'public/index.html': '<h1>hi</h1>',
      'kirin.config.ts': `export default {
        admin: { listen: '127.0.0.1:0' },
        sites: {
          'shop.example.com, www.shop.example.com': {
            '/': { app: './app.ts' },
            '/static/': { static: './public' },
            '/api/': { proxy: { to: '${upstreamUrl}', health: { path: '/', interval: '1s' } } },
          },
          '*': { '/': { redirect: 'https://shop.example.com{path}' } },
        },
      };\n`,
    });
    k = await startWithAdmin(dir, 2);
    for (const path of ['/', '/', '/?ms=20', '/api/x', '/checkout']) await request(`${k.kirin.url}${path}`, { headers: { host: 'shop.example.com' }, agent: false });

    context = await chromium.launchPersistentContext(tempDir('kirin-chromium-'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
  });
  after(async () => {
    await context?.close();
    await k?.kirin.stop();
    upstream?.close();
    upstream?.closeAllConnections();
  });

  async function workerPids(): Promise<number[]> {
    return page.$$eval('#workers tbody tr[data-pid]', (rows) => rows.map((r) => Number((r as HTMLElement).dataset.pid)));
  }

  it('loads, fills every panel, and logs no errors', async () => {
    const response = await page.goto(`${k.admin}/`);
    assert.equal(response?.status(), 200);
    await page.waitForSelector('#workers tbody tr[data-pid]');
    await page.waitForFunction(() => document.querySelectorAll('#workers tbody tr[data-pid] .state-ready').length === 2);
    assert.equal(await page.textContent('#health'), 'healthy');
    const sites = await page.textContent('#sites tbody');
    assert.match(sites ?? '', /shop\.example\.com, www\.shop\.example\.com/);
    assert.match(sites ?? '', /\/static\s*static/);
    await page.waitForFunction(() => /healthy/.test(document.querySelector('#upstreams tbody')?.textContent ?? ''));
    await page.waitForFunction(() => /GET \/checkout → Error: payment provider timed out/.test(document.querySelector('#errors')?.textContent ?? ''));
    assert.equal(await page.locator('#chart-rate polyline').count() > 0, true, 'the rate chart is drawn');
    assert.deepEqual(consoleErrors, []);
  });

  it('shows the new worker after one is killed', async () => {
    const before = await workerPids();
    assert.equal(before.length, 2);
    process.kill(before[0]!, 'SIGKILL');
    await page.waitForFunction(
      ([killed, kept]) => {
        const pids = [...document.querySelectorAll<HTMLElement>('#workers tbody tr[data-pid]')].map((r) => Number(r.dataset.pid));
        const ready = document.querySelectorAll('#workers tbody tr[data-pid] .state-ready').length;
        return pids.length === 2 && !pids.includes(killed!) && pids.includes(kept!) && ready === 2;
      },
      [before[0], before[1]],
      { timeout: 15_000 },
    );
    const after = await workerPids();
    assert.ok(!after.includes(before[0]!));
    await page.waitForFunction(() => /worker-crash/.test(document.querySelector('#errors')?.textContent ?? ''));
    assert.deepEqual(consoleErrors, []);
  });

  it('takes a screenshot', async () => {
    if (UPDATE) await trafficForScreenshot(k.kirin.url);
    // Wait for the charts to carry the traffic (a finished 5-second slot).
    await page.waitForFunction(() => (document.querySelector('#card-total')?.textContent ?? '0') !== '0');
    const path = UPDATE ? join(ROOT, 'docs', 'images', 'dashboard.png') : join(tempDir('kirin-shot-'), 'dashboard.png');
    mkdirSync(join(path, '..'), { recursive: true });
    await page.screenshot({ path, fullPage: true });
    const png = readFileSync(path);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.length > 10_000);
  });
});

/** About a minute of uneven traffic, so the charts in the docs' screenshot have a shape. */
async function trafficForScreenshot(url: string): Promise<void> {
  const end = Date.now() + 65_000;
  while (Date.now() < end) {
    const second = Math.floor((end - Date.now()) / 1000);
    const burst = 5 + ((second * 7) % 23);
    await Promise.all(
      Array.from({ length: burst }, (_, i) => {
        const path = i % 17 === 0 ? '/checkout' : i % 5 === 0 ? `/?ms=${20 + (second % 9) * 10}` : i % 3 === 0 ? '/api/list' : '/';
        return request(`${url}${path}`, { headers: { host: 'shop.example.com' } }).catch(() => null);
      }),
    );
    // Pacing, not waiting for anything: the rate should rise and fall over the minute.
    await new Promise((r) => setTimeout(r, 150));
  }
}
