/**
 * `kirin serve PATH[:EXPORT]` with every kind of app Kirin accepts, and the
 * errors for what it does not.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { ROOT, startKirin, tempDir, type LogLine } from '../support/kirin.ts';

const APPS = join(ROOT, 'test/fixtures/apps');

async function serve(app: string, check: (url: string) => Promise<void>): Promise<void> {
  const state = tempDir();
  const kirin = await startKirin({ cwd: APPS, args: ['serve', app, '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', state] });
  try {
    await check(kirin.url);
  } finally {
    await kirin.stop();
  }
}

describe('loading apps', () => {
  it('serves a .ts fetch handler object', () =>
    serve('pid-fetch.ts', async (url) => {
      const res = await request(`${url}/`);
      assert.equal(res.status, 200);
      assert.match(res.body, /^v1 \d+$/);
      assert.equal(res.headers['content-type'], 'text/plain;charset=UTF-8');
    }));

  it('serves a plain .js function (request) => Response', () =>
    serve('plain.js', async (url) => {
      assert.equal((await request(`${url}/a/b`)).body, 'plain js /a/b');
    }));

  it("gives a fetch app Node's own Response from fetch(), as `instanceof Response` and to return as is", () =>
    serve('fetch-proxy.mjs', async (url) => {
      assert.equal((await request(`${url}/`)).body, 'instanceof Response: true; from upstream');
      assert.equal((await request(`${url}/pass`)).body, 'from upstream');
    }));

  it('serves a Node listener and tells it the client address', () =>
    serve('node-listener.mjs', async (url) => {
      assert.equal((await request(`${url}/x?y=1`)).body, 'node GET /x?y=1 from 127.0.0.1');
    }));

  it('serves a CommonJS module', () =>
    serve('commonjs.cjs', async (url) => {
      assert.equal((await request(`${url}/cjs`)).body, 'commonjs /cjs');
    }));

  it('serves an Express app (installed from npm), body parsing included', () =>
    serve('express-app.mjs', async (url) => {
      assert.equal((await request(`${url}/`)).body, 'express ip=127.0.0.1 proto=http');
      const echo = await request(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      assert.deepEqual(JSON.parse(echo.body), { got: { a: 1 } });
    }));

  it("writes an access-log line for an Express app's request (Express swaps the response's prototype)", async () => {
    const kirin = await startKirin({ cwd: APPS, args: ['serve', 'express-app.mjs', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', tempDir()] });
    try {
      assert.equal((await request(`${kirin.url}/?express=logged`)).status, 200);
      const line = await kirin.waitForLine((l) => l.type === 'access' && l.path === '/?express=logged', 10_000, 'the access-log line');
      assert.equal(line.status, 200);
    } finally {
      await kirin.stop();
    }
  });

  it('serves a Hono app (installed from npm)', () =>
    serve('hono-app.ts', async (url) => {
      assert.equal((await request(`${url}/`)).body, 'hono says hi');
      assert.deepEqual(JSON.parse((await request(`${url}/json`)).body), { framework: 'hono', path: '/json' });
      const echo = await request(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"b":2}' });
      assert.deepEqual(JSON.parse(echo.body), { got: { b: 2 } });
    }));

  it("serves Koa's app.callback()", () =>
    serve('koa-app.mjs', async (url) => {
      assert.equal((await request(`${url}/k`)).body, 'koa /k');
    }));

  it('serves a Fastify instance', () =>
    serve('fastify-app.mjs', async (url) => {
      assert.deepEqual(JSON.parse((await request(`${url}/`)).body), { framework: 'fastify' });
    }));

  it('serves a named export with PATH:EXPORT', () =>
    serve('named-export.ts:api', async (url) => {
      assert.equal((await request(`${url}/`)).body, 'named export api');
    }));
});

describe('apps that cannot be served', () => {
  /** Starts two workers of a broken app; returns the exit code and the log lines that mention `needle`. */
  async function failure(app: string, needle: string): Promise<{ code: number | null; mentions: LogLine[]; output: string }> {
    const state = tempDir();
    const kirin = await startKirin({ cwd: APPS, args: ['serve', app, '--workers', '2', '--bind', '127.0.0.1:0', '--state-dir', state], waitReady: false });
    const { code } = await kirin.exited;
    return { code, mentions: kirin.lines.filter((l) => JSON.stringify(l).includes(needle)), output: kirin.output() };
  }

  it('an app that throws at import: one log entry with the stack, no respawning, exit code 4', async () => {
    const { code, mentions, output } = await failure('throws-at-import.ts', 'this app is broken at import');
    assert.equal(code, 4);
    assert.equal(mentions.length, 1, output);
    assert.equal(mentions[0]!.level, 'fatal');
    assert.match(String(mentions[0]!.stack), /throws-at-import\.ts:1/, 'the stack names the file and line');
  });

  it('an app that writes why on stderr and exits at import: its words reach the output before Kirin halts', async () => {
    const { code, output } = await failure('exits-at-import.ts', 'exits-at-import');
    assert.equal(code, 3);
    assert.ok(output.includes('exits-at-import: DATABASE_URL is not set, giving up\n'), output);
  });

  it('an export that is not an app: says what was found and what is accepted', async () => {
    const { code, mentions } = await failure('not-an-app.ts', 'not an app');
    assert.equal(code, 4);
    assert.match(String(mentions[0]?.msg), /is number 42, not an app\. Kirin accepts a fetch handler .*, a Node listener .*, or an app that calls listen\(\) itself/);
  });

  it('a missing export names the exports there are', async () => {
    const { code, mentions } = await failure('named-export.ts:nope', 'no export named');
    assert.equal(code, 4);
    assert.match(String(mentions[0]?.msg), /no export named "nope" \(it exports: api, default\)/);
  });
});
