/**
 * `kirin deploy` to two hosts at once: two real OpenSSH servers, each in its
 * own network namespace with its own address, user and disk for the app's
 * folder (the same path on both, as on two machines).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeLoad, startLoad, type LoadRun } from '../../bench/lib/load.ts';
import { appNpmCache, APP_SOURCE, createApp, type TestApp } from './support/app.ts';
import { cli } from './support/cli.ts';
import { startTestHost, type TestHost } from './support/test-host.ts';
import { visit } from './support/visit.ts';

// Throws at import on a host where the deploy user has ~/break-the-app: a release that fails on one host only.
const BREAKS_ON_MARKED_HOST = `import { existsSync } from 'node:fs';
if (existsSync(\`\${process.env.HOME}/break-the-app\`)) throw new Error('broken on this host');
export default { fetch: () => new Response('v-broken-on-one') };
`;

describe('kirin deploy to two hosts', () => {
  let scratch: string;
  let hosts: TestHost[] = [];
  let app: TestApp;

  async function served(host: TestHost): Promise<string> {
    return (await visit(host)).body;
  }

  function current(host: TestHost): string {
    return host.exec(`readlink ${host.path}/current`).trim();
  }

  async function underLoad<T>(work: () => Promise<T>): Promise<{ value: T; loads: Awaited<ReturnType<LoadRun['stop']>>[] }> {
    const loads = hosts.map((host) => startLoad({ url: `http://${host.address}:8000/`, concurrency: 10 }));
    try {
      await Promise.all(loads.map((load) => load.waitForRequests(100)));
      const value = await work();
      await Promise.all(loads.map((load) => load.waitForRequests(load.snapshot().requests + 100)));
      return { value, loads: await Promise.all(loads.map((load) => load.stop())) };
    } finally {
      await Promise.all(loads.map((load) => load.stop()));
    }
  }

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'kd-hosts-'));
    chmodSync(scratch, 0o755);
    const path = join(scratch, 'app');
    const cache = appNpmCache();
    hosts = [await startTestHost({ npmCache: cache, path, diskSize: '200m' }), await startTestHost({ npmCache: cache, path, diskSize: '200m' })];
    // One ssh config for both, as ~/.ssh/config would have: each host's key and known_hosts entry.
    const sshConfig = join(scratch, 'ssh_config');
    writeFileSync(sshConfig, hosts.map((host) => [`Host ${host.address}`, `  IdentityFile ${host.dir}/id_ed25519`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${host.knownHosts}`, '  GlobalKnownHostsFile /dev/null', ''].join('\n')).join('\n'));
    app = createApp({ deploy: { hosts: hosts.map((h) => h.spec), path, sshConfig, healthTimeout: 20 } });
  });
  after(async () => {
    await Promise.all(hosts.map((host) => host.stop()));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('uploads and installs on both at once, switches both, and ends with a summary row per host', async () => {
    const result = await cli(['deploy'], app.dir);
    assert.equal(result.code, 0, result.output);
    for (const host of hosts) {
      assert.equal(await served(host), 'v1');
      assert.match(result.output, new RegExp(`^${host.spec.replace(/\./g, '\\.')} +\\d{8}-\\d{6}-\\d{3} +\\S+ files, .* +npm ci +serving \\(started Kirin\\)`, 'm'));
    }
    // Both uploads started before either ended: in parallel.
    const lines = result.output.split('\n');
    const started = hosts.map((host) => lines.indexOf(`[${host.spec}] upload …`));
    const ended = hosts.map((host) => lines.findIndex((line) => line.startsWith(`[${host.spec}] upload: `)));
    assert.ok(Math.max(...started) < Math.min(...ended), result.output);
    assert.equal(current(hosts[0]!), current(hosts[1]!));
  });

  it('rolling: true under load: one host switches and passes its gate before the next begins; zero failed requests', async () => {
    app.setDeploy({ rolling: true });
    app.write('app.js', APP_SOURCE('v2'));
    const { value: result, loads } = await underLoad(() => cli(['deploy'], app.dir));
    app.setDeploy({ rolling: false });
    assert.equal(result.code, 0, result.output);
    for (const load of loads) assert.equal(load.failures, 0, describeLoad(load));
    const lines = result.output.split('\n');
    const firstDone = lines.findIndex((line) => line.startsWith(`[${hosts[0]!.spec}] switch: current → `));
    const secondStarts = lines.indexOf(`[${hosts[1]!.spec}] switch …`);
    assert.ok(firstDone !== -1 && firstDone < secondStarts, result.output);
    for (const host of hosts) assert.equal(await served(host), 'v2');
  });

  it('a release that fails on one host only: every host that switched goes back, exit code 1, zero failed requests', async () => {
    const before = hosts.map(current);
    hosts[1]!.exec(`su ${hosts[1]!.user} -c 'touch ~/break-the-app'`);
    app.write('app.js', BREAKS_ON_MARKED_HOST);
    const { value: result, loads } = await underLoad(() => cli(['deploy'], app.dir));
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, new RegExp(`\\[${hosts[1]!.spec}\\] switch: failed: .*the new release did not start: .*broken on this host`));
    assert.match(result.output, new RegExp(`\\[${hosts[0]!.spec}\\] Switched back to ${before[0]!.replace('releases/', '')}, which serves again\\.`));
    for (const load of loads) assert.equal(load.failures, 0, describeLoad(load));
    assert.deepEqual(hosts.map(current), before);
    for (const host of hosts) assert.equal(await served(host), 'v2');
  });
});
