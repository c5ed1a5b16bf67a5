/**
 * `kirin dev` in a real browser (Debian's Chromium, driven by playwright-core):
 * a page open in the browser reloads by itself after a save; a syntax error
 * turns it into the error page (code frame, .ts position) without console
 * errors; the fix brings the app back, again without touching the browser.
 *
 * A page with a strict Content-Security-Policy, compressed by Kirin, reloads
 * too: the script goes in before compression and its hash into the policy.
 *
 * It takes a screenshot of the error page each run; KIRIN_UPDATE_SCREENSHOTS=1
 * writes it to docs/images/dev-error-page.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

const UPDATE = process.env.KIRIN_UPDATE_SCREENSHOTS === '1';

const page = (title: string) => `import { greeting } from './greeting.ts';
export default {
  fetch(request: Request): Response {
    const name = new URL(request.url).searchParams.get('name') ?? 'world';
    return new Response(\`<!doctype html><html><head><title>${title}</title></head><body><h1>\${greeting(name)}</h1></body></html>\`, {
      headers: { 'content-type': 'text/html; charset=utf-8' },
    });
  },
};
`;

const greeting = (words: string) => `export function greeting(name: string): string {\n  return \`${words}, \${name}!\`;\n}\n`;

/** Headless Chromium with one tab whose console errors (and uncaught page errors) are collected. */
async function openBrowser(): Promise<{ context: BrowserContext; tab: Page; consoleErrors: string[] }> {
  const context = await chromium.launchPersistentContext(tempDir('kirin-chromium-'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 900 },
  });
  const tab = context.pages()[0] ?? (await context.newPage());
  const consoleErrors: string[] = [];
  tab.on('console', (message) => {
    // Chromium notes the error page's own status (500, as it must be for HTTP clients); anything else is an error of the page.
    const ownStatus = message.text().startsWith('Failed to load resource: the server responded with a status of 500') && message.location().url === tab.url();
    if (message.type() === 'error' && !ownStatus) consoleErrors.push(message.text());
  });
  tab.on('pageerror', (error) => consoleErrors.push(error.message));
  return { context, tab, consoleErrors };
}

describe('kirin dev in Chromium', () => {
  let kirin: KirinProcess;
  let context: BrowserContext;
  let tab: Page;
  let dir: string;
  let consoleErrors: string[];

  before(async () => {
    dir = tempDir('kirin-dev-browser-');
    writeFiles(dir, { 'app.ts': page('demo'), 'greeting.ts': greeting('Hello') });
    kirin = await startKirin({ args: ['dev', 'app.ts', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state')], cwd: dir });
    ({ context, tab, consoleErrors } = await openBrowser());
  });
  after(async () => {
    await context?.close();
    await kirin?.stop();
  });

  it('reloads an open page after a save', async () => {
    await tab.goto(`${kirin.url}/?name=Kirin`);
    assert.equal(await tab.textContent('h1'), 'Hello, Kirin!');
    writeFileSync(join(dir, 'greeting.ts'), greeting('Bonjour'));
    await tab.waitForFunction(() => document.querySelector('h1')?.textContent === 'Bonjour, Kirin!', undefined, { timeout: 20_000 });
    assert.deepEqual(consoleErrors, []);
  });

  it('shows the error page with the code frame after a syntax error, with no console errors', async () => {
    writeFileSync(join(dir, 'greeting.ts'), 'export function greeting(name: string): string {\n  return `Hi, ${name}!` +;\n}\n');
    await tab.waitForSelector('section.frame', { timeout: 20_000 });
    assert.match((await tab.textContent('h1')) ?? '', /^SyntaxError: /);
    assert.equal(await tab.textContent('.where'), `${join(dir, 'greeting.ts')}:2:26`);
    assert.match((await tab.textContent('.code tr.focus')) ?? '', /return `Hi, \$\{name\}!` \+;/);
    assert.match((await tab.textContent('body')) ?? '', /GET \/\?name=Kirin/);
    const shot = UPDATE ? join(ROOT, 'docs', 'images', 'dev-error-page.png') : join(tempDir('kirin-shot-'), 'dev-error-page.png');
    mkdirSync(join(shot, '..'), { recursive: true });
    await tab.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.deepEqual(consoleErrors, []);
  });

  it('comes back by itself once the file is fixed', async () => {
    writeFileSync(join(dir, 'greeting.ts'), greeting('Hello again'));
    await tab.waitForFunction(() => document.querySelector('h1')?.textContent === 'Hello again, Kirin!', undefined, { timeout: 20_000 });
    assert.deepEqual(consoleErrors, []);
  });
});

/**
 * A page locked down as a production site would be: nonce-based scripts, nothing else, in the header and again in
 * the page's own meta tag (browsers enforce both); long enough to be compressed.
 */
const strictPage = `import { greeting } from './greeting.ts';
export default {
  fetch(): Response {
    const filler = '<!-- ' + 'x'.repeat(4000) + ' -->';
    return new Response(\`<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="script-src 'nonce-n0nce'; connect-src 'none'"><title>strict</title></head><body><h1>\${greeting('CSP')}</h1>\${filler}<script nonce="n0nce">document.body.dataset.own = 'ran';</script></body></html>\`, {
      headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; script-src 'nonce-n0nce'; base-uri 'none'" },
    });
  },
};
`;

describe('kirin dev in Chromium: a strict Content-Security-Policy (header and meta tag) and a compressed page', () => {
  let kirin: KirinProcess;
  let context: BrowserContext;
  let tab: Page;
  let consoleErrors: string[];
  let dir: string;

  before(async () => {
    dir = tempDir('kirin-dev-csp-');
    writeFiles(dir, {
      'app.ts': strictPage,
      'greeting.ts': greeting('Hello'),
      'kirin.config.json': JSON.stringify({ stateDir: './state', sites: { '*': { '/': { app: './app.ts', compress: true } } } }),
    });
    kirin = await startKirin({ args: ['dev', '--bind', '127.0.0.1:0'], cwd: dir });
    ({ context, tab, consoleErrors } = await openBrowser());
  });
  after(async () => {
    await context?.close();
    await kirin?.stop();
  });

  it('reloads the page after a save, with no CSP violation in the console', async () => {
    const response = await tab.goto(`${kirin.url}/`);
    assert.match(response?.headers()['content-encoding'] ?? '', /^(br|gzip)$/, 'Kirin compressed the page');
    assert.equal(await tab.textContent('h1'), 'Hello, CSP!');
    assert.equal(await tab.evaluate(() => document.body.dataset.own), 'ran', "the page's own nonce script still runs");
    writeFileSync(join(dir, 'greeting.ts'), greeting('Saved'));
    await tab.waitForFunction(() => document.querySelector('h1')?.textContent === 'Saved, CSP!', undefined, { timeout: 20_000 });
    assert.deepEqual(consoleErrors, []);
  });
});
