/**
 * allow/deny through a real Kirin, over IPv4 and IPv6 loopback and behind a
 * trusted proxy, with the odd address spellings (ANCHORS.md) on both sides:
 * in the config's lists and in X-Forwarded-For.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

describe('allow and deny end to end', () => {
  let kirin: KirinProcess;
  let v4: string;
  let v6: string;

  before(async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'app.ts': `export default { fetch: (request: Request) => new Response('inside ' + new URL(request.url).pathname) };\n`,
      'kirin.config.ts': `export default {
        trustedProxies: ['127.0.0.1'],
        sites: { '*': {
          '/admin': { app: './app.ts', allow: ['10.0.0.0/8'] },
          '/odd-allow': { app: './app.ts', allow: ['0x7f.1'] },
          '/mapped-allow': { app: './app.ts', allow: ['::ffff:127.0.0.1'] },
          '/v6-only': { app: './app.ts', allow: ['::1/128'] },
          '/blocked': { app: './app.ts', deny: ['10.0.0.0/8', '2001:db8::/32'] },
          '/both': { app: './app.ts', allow: ['192.168.0.0/16'], deny: ['192.168.66.0/24'] },
          '/': { app: './app.ts' },
        } },
      };\n`,
    });
    kirin = await startKirin({ cwd: dir, args: ['serve', '--workers', '1', '--bind', '127.0.0.1:0', '--bind', '[::1]:0', '--state-dir', `${dir}/state`] });
    v4 = kirin.urls.find((u) => u.includes('127.0.0.1'))!;
    v6 = kirin.urls.find((u) => u.includes('[::1]'))!;
    assert.ok(v4 && v6, `listening on ${kirin.urls.join(', ')}`);
  });
  after(() => kirin?.stop());

  const status = async (base: string, path: string, forwardedFor?: string) =>
    (await request(`${base}${path}`, { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } })).status;

  it('refuses a client outside the allow-list with 403, on every spelling of the path', async () => {
    for (const path of ['/admin', '/admin/', '/admin/x', '/ADMIN/x', '//admin/x', '/admin/./x', '/y/../admin/x']) {
      assert.equal(await status(v4, path), 403, path);
    }
    assert.equal(await status(v4, '/admin%2Fx'), 400, 'an encoded slash is refused outright');
    assert.equal(await status(v4, '/public'), 200);
  });

  it('admits a client in the allow-list, however the list spells the address', async () => {
    assert.equal(await status(v4, '/odd-allow/x'), 200);
    assert.equal(await status(v4, '/mapped-allow/x'), 200);
    assert.equal(await status(v4, '/odd-allow/x', '192.0.2.1'), 403);
  });

  it('keeps IPv4 and IPv6 loopback apart', async () => {
    assert.equal(await status(v6, '/v6-only/'), 200);
    assert.equal(await status(v4, '/v6-only/'), 403);
    assert.equal(await status(v6, '/odd-allow/'), 403, '::1 is not 127.0.0.1');
  });

  it('matches the client a trusted proxy forwards, in any spelling', async () => {
    assert.equal(await status(v4, '/admin/x', '10.1.2.3'), 200);
    for (const spelling of ['10.0.0.1', '012.0.0.1', '0xa.0.0.1', '167772161', '10.1', '::ffff:10.0.0.1', '[::ffff:a00:1]']) {
      assert.equal(await status(v4, '/blocked/x', spelling), 403, spelling);
    }
    assert.equal(await status(v4, '/blocked/x', '2001:db8:1::5'), 403);
    assert.equal(await status(v4, '/blocked/x', '192.0.2.1'), 200);
  });

  it('uses the rightmost address the trusted proxy did not add', async () => {
    assert.equal(await status(v4, '/blocked/x', '10.0.0.1, 192.0.2.1'), 200, 'what the client claims further left is ignored');
    assert.equal(await status(v4, '/blocked/x', '192.0.2.1, 10.0.0.1'), 403);
  });

  it('ignores X-Forwarded-For from a peer that is not trusted', async () => {
    // ::1 is not in trustedProxies: its X-Forwarded-For cannot make it 10.0.0.1 (allowed) …
    assert.equal(await status(v6, '/admin/x', '10.0.0.1'), 403);
    // … nor hide it from a deny-list.
    assert.equal(await status(v6, '/v6-only/x', '192.0.2.1'), 200);
  });

  it('lets deny win over allow', async () => {
    assert.equal(await status(v4, '/both/', '192.168.1.1'), 200);
    assert.equal(await status(v4, '/both/', '192.168.66.1'), 403);
    assert.equal(await status(v4, '/both/', '10.0.0.1'), 403);
  });
});
