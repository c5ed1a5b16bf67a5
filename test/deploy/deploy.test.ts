/**
 * `kirin deploy` end to end against a real OpenSSH server in its own network
 * namespace (a second machine with its own address), a user the setup
 * creates, and a real Kirin serving there — under load from this side.
 * The steps build on each other, in order: setup, deploys, rollback, prune,
 * and the failures that must leave the serving release alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { describeLoad, startLoad } from '../../bench/lib/load.ts';
import { waitFor } from '../support/kirin.ts';
import { appNpmCache, APP_SOURCE, createApp, type TestApp } from './support/app.ts';
import { cli, startCli } from './support/cli.ts';
import { giveNpmCache, startTestHost, type TestHost } from './support/test-host.ts';
import { visit } from './support/visit.ts';
import { previousRelease } from '../../src/deploy/releases-on-host.ts';

let host: TestHost;
let app: TestApp;
const secret = `kd-secret-${randomBytes(12).toString('hex')}`;

async function get(path = '/'): Promise<string> {
  return (await visit(host, path)).body;
}

function releasesOnHost(): string[] {
  return host.exec(`ls -1 ${host.path}/releases`).trim().split('\n').filter(Boolean);
}

function currentOnHost(): string {
  return host.exec(`readlink ${host.path}/current`).trim();
}

async function deployUnderLoad(args: string[] = ['deploy']) {
  const load = startLoad({ url: `http://${host.address}:8000/`, concurrency: 20, connection: 'keep-alive' });
  try {
    await load.waitForRequests(200);
    const result = await cli(args, app.dir);
    await load.waitForRequests(load.snapshot().requests + 200);
    return { result, load: await load.stop() };
  } finally {
    await load.stop();
  }
}

describe('kirin deploy over SSH', () => {
  before(async () => {
    host = await startTestHost({ createUser: false });
    app = createApp({ deploy: { hosts: [host.spec], path: host.path, sshConfig: host.sshConfig, keep: 3, env: '.env.production', healthTimeout: 20 }, extraConfig: { envFiles: ['.env'] } });
    app.write('.env.production', `NODE_ENV=production\nSECRET_KEY=${secret}\n`);
  });
  after(async () => {
    await host?.stop();
  });

  it('setup as root creates the user and folders; a second setup changes nothing', async () => {
    const first = await cli(['deploy', 'setup', '--as', 'root'], app.dir);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, new RegExp(`\\+ user: created ${host.user}`));
    assert.match(first.output, /\+ folders: created/);
    assert.match(first.output, /✓ node: Node 24\.\d+\.\d+ and npm/);
    assert.equal(host.exec(`stat -c %U ${host.path}/releases`).trim(), host.user);

    const second = await cli(['deploy', 'setup', '--as', 'root'], app.dir);
    assert.equal(second.code, 0, second.output);
    assert.doesNotMatch(second.output, /^\[.*\] [+!] /m, second.output);
    assert.match(second.output, /setup: nothing to change/);
    giveNpmCache(host.user, appNpmCache());
  });

  it('the first deploy installs, starts Kirin from current (detached, no systemd) and passes the health gate; the env file lands 0600 and is never printed', async () => {
    const result = await cli(['deploy'], app.dir);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /started Kirin \(detached: systemd does not run this host/);
    assert.match(result.output, /install: npm ci --omit=dev/);
    assert.equal(await get('/'), 'v1');
    assert.equal(await get('/env'), 'secret is set');
    const [release] = releasesOnHost();
    assert.equal(currentOnHost(), `releases/${release}`);
    assert.equal(host.exec(`stat -c '%a %U' ${host.path}/shared/env/${release}`).trim(), `600 ${host.user}`);
    assert.equal(host.exec(`readlink ${host.path}/releases/${release}/.env`).trim(), `${host.path}/shared/env/${release}`);
    assert.ok(!result.output.includes(secret), 'the secret appeared in the output');
    // The master runs from the release (pid file in .kirin/), as the deploy user.
    const pid = Number(host.exec(`cat ${host.path}/.kirin/kirin.pid`).trim());
    assert.equal(host.exec(`stat -c %U /proc/${pid}`).trim(), host.user);
  });

  it('a deploy of a one-file change under 20 keep-alive connections: zero failed requests, and rsync sends only that file', async () => {
    const before = releasesOnHost();
    app.write('app.js', APP_SOURCE('v2'));
    const { result, load } = await deployUnderLoad();
    assert.equal(result.code, 0, result.output);
    assert.equal(load.failures, 0, `failures during the deploy: ${describeLoad(load)}`);
    assert.ok(load.ok > 400, describeLoad(load));
    assert.equal(await get('/'), 'v2');
    // rsync's --stats: one regular file transferred; the rest hard-linked from the current release.
    assert.match(result.output, /upload: 1 of \d+ files sent/);
    assert.match(result.output, /lockfile unchanged: node_modules linked from the current release/);
    const release = releasesOnHost().find((r) => !before.includes(r))!;
    assert.equal(host.exec(`stat -c %h ${host.path}/releases/${release}/public/style.css`).trim(), '2');
    assert.equal(host.exec(`stat -c %h ${host.path}/releases/${release}/app.js`).trim(), '1');
    assert.ok(!result.output.includes(secret));
  });

  it('kirin releases lists them with the current one marked', async () => {
    const result = await cli(['releases'], app.dir);
    assert.equal(result.code, 0, result.output);
    const current = currentOnHost().replace('releases/', '');
    assert.match(result.output, new RegExp(`^\\s+\\*\\s+${current}\\s`, 'm'));
    assert.match(result.output, /RELEASE\s+COMMIT\s+DEPLOYED\s+BY\s+KIRIN/);
  });

  it('rollback under load: back to the previous release with zero failed requests, and it says migrations are not reverted', async () => {
    const [first] = releasesOnHost();
    const { result, load } = await deployUnderLoad(['rollback']);
    assert.equal(result.code, 0, result.output);
    assert.equal(load.failures, 0, `failures during the rollback: ${describeLoad(load)}`);
    assert.equal(currentOnHost(), `releases/${first}`);
    assert.equal(await get('/'), 'v1');
    assert.match(result.output, /Database migrations are not reverted/);
  });

  it('a beforeSwitch hook that fails: nothing is switched and the old release keeps serving', async () => {
    const current = currentOnHost();
    const releases = releasesOnHost();
    app.write('app.js', APP_SOURCE('v-hook'));
    app.setDeploy({ hooks: { beforeSwitch: ['echo "migrating $KIRIN_RELEASE"', 'echo "the migration broke" >&2; exit 3'] } });
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ hooks: {} });
    assert.notEqual(result.code, 0);
    assert.match(result.output, /migrating \d{8}-\d{6}-\d{3}/);
    assert.match(result.output, /the beforeSwitch hook `echo "the migration broke" >&2; exit 3` failed \(exit 3\); nothing was switched/);
    assert.equal(currentOnHost(), current);
    assert.deepEqual(releasesOnHost(), releases);
    assert.equal(await get('/'), 'v1');
  });

  it('a release whose app throws at import: switched back automatically, exit code non-zero, old release serving without a failed request', async () => {
    const current = currentOnHost();
    app.write('app.js', "throw new Error('the app is broken at import');\n");
    const { result, load } = await deployUnderLoad();
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /the new release did not start: .*broken at import/s);
    assert.match(result.output, new RegExp(`Switched back to ${current.replace('releases/', '')}`));
    assert.equal(currentOnHost(), current);
    assert.equal(load.failures, 0, describeLoad(load));
    assert.equal(await get('/'), 'v1');
  });

  it('keep: 3 — after more deploys, three releases are left', async () => {
    for (const version of ['v3', 'v4', 'v5']) {
      app.write('app.js', APP_SOURCE(version));
      const result = await cli(['deploy'], app.dir);
      assert.equal(result.code, 0, result.output);
    }
    assert.equal(await get('/'), 'v5');
    assert.equal(releasesOnHost().length, 3, releasesOnHost().join(' '));
    assert.ok(releasesOnHost().includes(currentOnHost().replace('releases/', '')));
  });

  it('kirin rollback RELEASE goes to the release named; one not kept is refused, naming those kept', async () => {
    const kept = releasesOnHost();
    const missing = await cli(['rollback', '20000101-000000-000'], app.dir);
    assert.equal(missing.code, 1, missing.output);
    assert.match(missing.output, new RegExp(`there is no release 20000101-000000-000 \\(kept: ${kept.join(', ')}\\)`));
    const v4 = kept.find((id) => host.exec(`cat ${host.path}/releases/${id}/app.js`).includes('"v4"'))!;
    const result = await cli(['rollback', v4], app.dir);
    assert.equal(result.code, 0, result.output);
    assert.equal(currentOnHost(), `releases/${v4}`);
    assert.equal(await get('/'), 'v4');
  });

  it('a stale lock left by a deploy that died is detected; --unlock frees it', async () => {
    app.setDeploy({ hooks: { beforeSwitch: ['sleep 60'] } });
    const dying = startCli(['deploy'], app.dir);
    await waitFor(() => /beforeSwitch …/.test(dying.output()), { timeoutMs: 60_000, what: 'the deploy to reach its hook' });
    process.kill(-dying.child.pid!, 'SIGKILL');
    await dying.done;
    app.setDeploy({ hooks: {} });

    const blocked = await cli(['deploy'], app.dir);
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.output, /the deploy lock held by .* looks stale: the deploy that took it \(pid \d+ on this machine\) is gone/);
    assert.match(blocked.output, /kirin deploy --unlock/);

    const unlock = await cli(['deploy', '--unlock'], app.dir);
    assert.equal(unlock.code, 0, unlock.output);
    assert.match(unlock.output, /freed the deploy lock held by .*kirin deploy/);
    const deadRelease = releasesOnHost().at(-1)!;
    app.write('app.js', APP_SOURCE('v6'));
    const next = await cli(['deploy'], app.dir);
    assert.equal(next.code, 0, next.output);
    assert.equal(await get('/'), 'v6');
    // The dead deploy's release never served: listed as such, and not what a rollback would go back to.
    const listed = JSON.parse((await cli(['releases', '--json'], app.dir)).stdout) as { releases: { id: string; info: { servedAt?: string | null } }[] }[];
    const releases = listed[0]!.releases;
    assert.deepEqual(releases.filter((r) => r.info.servedAt === null).map((r) => r.id), [deadRelease]);
    const current = currentOnHost().replace('releases/', '');
    assert.ok(releases.find((r) => r.id === current)!.info.servedAt);
    const previous = previousRelease({ releases: releases as never, current });
    assert.ok(previous !== null && previous !== deadRelease, `${previous}`);
  });

  it('the connection drops mid-upload: the current release is unchanged and no half release appears', async () => {
    const current = currentOnHost();
    const releases = releasesOnHost();
    const marker = `${host.dir}/dropped`;
    const dropConfig = `${host.dir}/ssh_config_drop`;
    writeFileSync(dropConfig, `${readFileSync(host.sshConfig, 'utf8')}  ProxyCommand ${process.execPath} ${new URL('./support/drop-proxy.ts', import.meta.url).pathname} %h %p ${marker} 2000000\n`);
    app.setDeploy({ sshConfig: dropConfig });
    app.write('big.bin', randomBytes(8 * 1024 * 1024));
    app.write('app.js', APP_SOURCE('v-dropped'));
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ sshConfig: host.sshConfig });
    assert.notEqual(result.code, 0, result.output);
    assert.match(readFileSync(marker, 'utf8'), /dropped after/);
    assert.match(result.output, /the connection dropped during the upload|the SSH connection dropped/);
    assert.equal(currentOnHost(), current);
    assert.deepEqual(releasesOnHost(), releases);
    assert.equal(await get('/'), 'v6');
    // Nothing half-uploaded became a release; the next deploy goes through.
    const next = await cli(['deploy'], app.dir);
    assert.equal(next.code, 0, next.output);
    assert.equal(await get('/'), 'v-dropped');
  });

  it('setup on a host without systemd, where Kirin is not running: starts it from current as a detached process of the deploy user (pid file), says so, and kirin reload reaches it; a second setup changes nothing', async () => {
    const kirin = `node ${host.path}/current/node_modules/kirin/dist/cli/bin.js`;
    const config = `--config ${host.path}/current/kirin.config.json`;
    const stopped = Number(host.exec(`cat ${host.path}/.kirin/kirin.pid`).trim());
    host.ssh(`${kirin} stop ${config}`);
    await waitFor(() => host.exec(`kill -0 ${stopped} 2>/dev/null && echo alive || echo gone`).trim() === 'gone', { timeoutMs: 30_000, what: 'the stopped Kirin to exit' });

    const setup = await cli(['deploy', 'setup'], app.dir);
    assert.equal(setup.code, 0, setup.output);
    assert.match(setup.output, new RegExp(`\\+ service: systemd does not run this host: started Kirin from current as a detached process of ${host.user} \\(pid file ${host.path}/\\.kirin/kirin\\.pid, log .*\\); health gate passed`));
    // The master writes its pid file once its workers are ready.
    const pid = await waitFor(() => Number(host.exec(`cat ${host.path}/.kirin/kirin.pid 2>/dev/null || true`).trim()), { what: 'the pid file' });
    assert.notEqual(pid, stopped);
    assert.equal(host.exec(`stat -c %U /proc/${pid}`).trim(), host.user);
    assert.equal(await get('/'), 'v-dropped');

    const reload = JSON.parse(host.ssh(`${kirin} reload --json ${config}`)) as { ok: boolean };
    assert.equal(reload.ok, true);
    assert.equal(await get('/'), 'v-dropped');

    const again = await cli(['deploy', 'setup'], app.dir);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, new RegExp(`✓ service: Kirin runs from current \\(pid ${pid}; systemd does not run this host`));
    assert.match(again.output, /setup: nothing to change/);
  });
});
