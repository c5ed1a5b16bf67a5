/**
 * Each way a deploy meets a broken world, against a real SSH host: the
 * message says what happened and what to do, the exit code is non-zero, and
 * the release that served before still serves.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { appNpmCache, APP_SOURCE, createApp, type TestApp } from './support/app.ts';
import { cli } from './support/cli.ts';
import { startTestHost, type TestHost } from './support/test-host.ts';
import { visit } from './support/visit.ts';

async function get(host: TestHost): Promise<string> {
  return (await visit(host)).body;
}

function current(host: TestHost): string {
  return host.exec(`readlink ${host.path}/current`).trim();
}

describe('kirin deploy: connection failures', () => {
  let host: TestHost;
  let app: TestApp;
  before(async () => {
    host = await startTestHost();
    app = createApp({ deploy: { hosts: [host.spec], path: host.path, sshConfig: host.sshConfig } });
  });
  after(async () => {
    await host?.stop();
  });

  it('host unreachable: says it cannot reach the host over SSH', async () => {
    app.setDeploy({ hosts: [`${host.spec}:2222`] });
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ hosts: [host.spec] });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /cannot reach the host over SSH \(Connection refused\)/);
    assert.match(result.output, /Is the machine on and its address right\?/);
  });

  it('auth refused: says the key is not authorized and how to add it', async () => {
    const other = `${host.dir}/other_key`;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const config = `${host.dir}/ssh_config_other_key`;
    writeFileSync(config, readFileSync(host.sshConfig, 'utf8').replace(/IdentityFile \S+/, `IdentityFile ${other}`));
    app.setDeploy({ sshConfig: config });
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ sshConfig: host.sshConfig });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /the host refused the login \(publickey\)/);
    assert.match(result.output, new RegExp(`ssh-copy-id ${host.spec}`));
  });

  it('host key changed: refuses, and explains reinstall versus interception and how to check', async () => {
    const impostor = `${host.dir}/impostor_key`;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', impostor]);
    const knownHosts = `${host.dir}/known_hosts_changed`;
    writeFileSync(knownHosts, `${host.address} ${readFileSync(`${impostor}.pub`, 'utf8')}`);
    const config = `${host.dir}/ssh_config_changed`;
    writeFileSync(config, readFileSync(host.sshConfig, 'utf8').replace(/UserKnownHostsFile \S+/, `UserKnownHostsFile ${knownHosts}`));
    app.setDeploy({ sshConfig: config });
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ sshConfig: host.sshConfig });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /the host's SSH key is not the one recorded for it in .*known_hosts_changed \(line 1\)/);
    assert.match(result.output, /reinstalled .* or someone is between you and the server/s);
    assert.match(result.output, /ssh-keygen -R/);
    // The recorded key was not replaced behind the user's back.
    assert.equal(readFileSync(knownHosts, 'utf8'), `${host.address} ${readFileSync(`${impostor}.pub`, 'utf8')}`);
  });

  it('host key unknown: refuses to accept it by itself', async () => {
    const config = `${host.dir}/ssh_config_unknown`;
    writeFileSync(`${host.dir}/known_hosts_empty`, '');
    writeFileSync(config, readFileSync(host.sshConfig, 'utf8').replace(/UserKnownHostsFile \S+/, `UserKnownHostsFile ${host.dir}/known_hosts_empty`));
    app.setDeploy({ sshConfig: config });
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ sshConfig: host.sshConfig });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /the host's SSH key is not in known_hosts, and Kirin does not accept an unknown key by itself/);
  });

  it('an app folder the deploy user may not create: says so and how to fix it (not a stale lock)', async () => {
    app.setDeploy({ path: '/root/kd-not-yours' });
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ path: host.path });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, new RegExp(`cannot create the deploy lock: /root/kd-not-yours is missing or not writable by ${host.user}; run \`kirin deploy setup\``));
    assert.doesNotMatch(result.output, /stale/);
  });

  it('--dry-run prints the plan and connects nowhere', async () => {
    app.setDeploy({ hosts: ['nobody@192.0.2.254'] });
    const result = await cli(['deploy', '--dry-run'], app.dir);
    app.setDeploy({ hosts: [host.spec] });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /kirin deploy --dry-run: what a deploy of .* would do \(nothing is changed\)/);
    assert.match(result.output, /--link-dest=.*--exclude=\/node_modules\//);
  });
});

describe('kirin deploy: failures on the host leave the serving release alone', () => {
  let host: TestHost;
  let app: TestApp;
  before(async () => {
    host = await startTestHost({ npmCache: appNpmCache(), diskSize: '64m' });
    app = createApp({ deploy: { hosts: [host.spec], path: host.path, sshConfig: host.sshConfig } });
    const first = await cli(['deploy'], app.dir);
    assert.equal(first.code, 0, first.output);
  });
  after(async () => {
    await host?.stop();
  });

  it('npm ci failing (a dependency whose install script fails): the deploy stops before the switch, saying why', async () => {
    const serving = current(host);
    const [manifest, lock] = [readFileSync(`${app.dir}/package.json`, 'utf8'), readFileSync(`${app.dir}/package-lock.json`, 'utf8')];
    // A dependency that fails to build on install, like a native addon without its compiler.
    const packageDir = `${host.dir}/broken-dep/package`;
    mkdirSync(packageDir, { recursive: true });
    writeFileSync(`${packageDir}/package.json`, JSON.stringify({ name: 'broken-dep', version: '1.0.0', scripts: { install: 'echo building the native addon failed >&2; exit 1' } }));
    execFileSync('tar', ['czf', `${app.dir}/vendor/broken-dep-1.0.0.tgz`, '-C', `${host.dir}/broken-dep`, 'package']);
    const withDep = JSON.parse(manifest);
    withDep.dependencies['broken-dep'] = 'file:vendor/broken-dep-1.0.0.tgz';
    const lockWithDep = JSON.parse(lock);
    lockWithDep.packages[''].dependencies['broken-dep'] = 'file:vendor/broken-dep-1.0.0.tgz';
    lockWithDep.packages['node_modules/broken-dep'] = { version: '1.0.0', resolved: 'file:vendor/broken-dep-1.0.0.tgz', hasInstallScript: true };
    app.write('package.json', JSON.stringify(withDep, null, 2));
    app.write('package-lock.json', JSON.stringify(lockWithDep, null, 2));
    app.write('app.js', APP_SOURCE('v-npm'));
    const result = await cli(['deploy'], app.dir);
    app.write('package.json', manifest);
    app.write('package-lock.json', lock);
    app.write('app.js', APP_SOURCE('v1'));
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /building the native addon failed/);
    assert.match(result.output, /installing the dependencies failed \(exit 1\); the release was not switched/);
    assert.equal(current(host), serving);
    assert.equal(await get(host), 'v1');
  });

  it('disk full during the upload: says so, and nothing is switched', async () => {
    const serving = current(host);
    app.write('huge.bin', randomBytes(48 * 1024 * 1024));
    const result = await cli(['deploy'], app.dir);
    app.setDeploy({ exclude: ['/huge.bin'] });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /the host ran out of disk space during the upload \(No space left on device\); nothing was switched/);
    assert.equal(current(host), serving);
    assert.equal(await get(host), 'v1');
    // The space is given back: the next deploy fits.
    app.write('app.js', APP_SOURCE('v2'));
    const next = await cli(['deploy'], app.dir);
    assert.equal(next.code, 0, next.output);
    assert.equal(await get(host), 'v2');
  });
});

describe('kirin deploy: rsync missing on the host', () => {
  let host: TestHost;
  before(async () => {
    host = await startTestHost({ hideRsync: true });
  });
  after(async () => {
    await host?.stop();
  });

  it('says rsync is not installed there and how to install it; setup says it too', async () => {
    const app = createApp({ deploy: { hosts: [host.spec], path: host.path, sshConfig: host.sshConfig } });
    const result = await cli(['deploy'], app.dir);
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /rsync is not installed on the host \(the upload needs it on both ends\): sudo apt-get install rsync/);
    const setup = await cli(['deploy', 'setup'], app.dir);
    assert.equal(setup.code, 1, setup.output);
    assert.match(setup.output, /! rsync: not installed/);
  });
});
