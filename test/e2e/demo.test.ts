/**
 * The README's first command: `npm start` serves the demo site in examples/demo.
 * Runs the serve command of package.json's "start" script as written (after its
 * build step), on a free port, and asks for what the demo page links to.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { freePort, ROOT, startKirin, tempDir, type KirinProcess } from '../support/kirin.ts';

/** The arguments after `node dist/cli/bin.js` in the start script. */
function startArgs(): string[] {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
  const serve = script.split('&&').map((part) => part.trim()).find((part) => part.startsWith('node dist/cli/bin.js '));
  assert.ok(serve, `package.json's start script does not run "node dist/cli/bin.js …": ${script}`);
  return serve.split(/\s+/).slice(2);
}

describe('the demo site (npm start)', () => {
  let kirin: KirinProcess;
  let port: number;

  before(async () => {
    port = await freePort();
    kirin = await startKirin({ args: [...startArgs(), '--state-dir', tempDir(), '--admin', 'off'], env: { PORT: String(port) } });
  });
  after(() => kirin?.stop());

  it('serves the page, which names the worker that answered', async () => {
    const res = await request(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /It works\./);
    assert.match(res.body, /served by Kirin worker <strong>\d+<\/strong>/);
    assert.match(res.body, /You are <code>127\.0\.0\.1<\/code>/);
  });

  it('serves what the page links to: the API, robots.txt and the stylesheet', async () => {
    const api = await request(`http://127.0.0.1:${port}/api/hello?name=kirin`);
    assert.equal(api.status, 200);
    const body = JSON.parse(api.body) as { hello: string; client: string };
    assert.equal(body.hello, 'kirin');
    assert.equal(body.client, '127.0.0.1');
    const robots = await request(`http://localhost:${port}/robots.txt`);
    assert.equal(robots.status, 200);
    assert.equal(robots.body, 'User-agent: *\nDisallow:\n');
    const css = await request(`http://127.0.0.1:${port}/static/style.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type'] as string, /^text\/css/);
  });

  it('answers 421 to a Host it does not serve', async () => {
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'attacker.example' } });
    assert.equal(res.status, 421);
  });
});
