/**
 * `kirin install`: the units it generates, checked by systemd's own
 * `systemd-analyze verify` (it needs no running systemd), read back the way
 * `kirin check` reads them, and the install steps with an injected runner.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { normalizeConfig } from '../../src/config/normalize.ts';
import type { CommandRunner } from '../../src/ops/command-runner.ts';
import { findInstalledUnit } from '../../src/ops/systemd/installed-unit.ts';
import { createUserCommand, lookUpUser, nextSteps, performInstall } from '../../src/ops/systemd/install.ts';
import { buildUnits, type ServiceUnitOptions } from '../../src/ops/systemd/service-unit.ts';
import { parseUnit, unitValues } from '../../src/ops/systemd/unit-file.ts';
import { MASTER_V8_FLAGS } from '../../src/runtime.ts';
import { KIRIN_BIN, tempDir, writeFiles } from '../support/kirin.ts';

const execFileAsync = promisify(execFile);

function unitsFor(raw: Record<string, unknown>, options: Partial<ServiceUnitOptions> & { dir?: string } = {}) {
  const dir = options.dir ?? tempDir('kirin-unit-');
  writeFiles(dir, { 'kirin.config.json': JSON.stringify(raw), '.env': 'SECRET_KEY=x\n' });
  const file = join(dir, 'kirin.config.json');
  const plan = normalizeConfig({ raw, file, cwd: dir, env: { STATE_DIRECTORY: '/var/lib/kirin' } });
  return buildUnits({
    name: 'kirin',
    plan,
    serveArgs: ['--config', file],
    workingDirectory: dir,
    nodePath: process.execPath,
    kirinBin: KIRIN_BIN,
    user: 'kirin',
    group: 'kirin',
    socket: false,
    stateDirExplicit: false,
    writable: [],
    ...options,
  });
}

/** Writes the units to a folder and runs systemd-analyze verify on them; returns its output (empty = clean). */
async function verify(files: { name: string; text: string }[]): Promise<string> {
  const dir = tempDir('kirin-units-');
  for (const f of files) writeFileSync(join(dir, f.name), f.text);
  try {
    const { stdout, stderr } = await execFileAsync('systemd-analyze', ['verify', '--man=no', ...files.map((f) => join(dir, f.name))], { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' } });
    return `${stdout}${stderr}`.trim();
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return `FAILED: ${e.stdout ?? ''}${e.stderr ?? e.message}`.trim();
  }
}

function service(text: string, key: string): string[] {
  return unitValues(parseUnit(text), 'Service', key);
}

const PUBLIC_SITE = { envFiles: ['.env'], listen: { http: [':80'], https: [':443'] }, sites: { 'example.com': { '/': { app: './app.ts' } } } };

describe('kirin install: kirin.service', () => {
  it('passes systemd-analyze verify, for ports 80/443 as a non-root user', async () => {
    const units = unitsFor(PUBLIC_SITE);
    assert.equal(units.files.length, 1);
    assert.equal(await verify(units.files), '');
    const text = units.files[0]!.text;
    assert.deepEqual(service(text, 'Type'), ['notify']);
    assert.deepEqual(service(text, 'NotifyAccess'), ['all']);
    assert.deepEqual(service(text, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(service(text, 'KillMode'), ['mixed']);
    assert.deepEqual(service(text, 'Restart'), ['always']);
    assert.deepEqual(service(text, 'User'), ['kirin']);
    assert.deepEqual(service(text, 'AmbientCapabilities'), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(service(text, 'CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(service(text, 'StateDirectory'), ['kirin']);
    assert.deepEqual(service(text, 'ProtectSystem'), ['strict']);
    assert.deepEqual(service(text, 'NoNewPrivileges'), ['yes']);
    assert.deepEqual(service(text, 'PrivateTmp'), ['no'], 'the test project lives in /tmp, which PrivateTmp would hide');
    assert.match(units.notes.join('\n'), /PrivateTmp= is off/);
    assert.match(service(text, 'EnvironmentFile')[0]!, /\/\.env$/);
    assert.equal(service(text, 'MemoryDenyWriteExecute').length, 0, "V8's JIT needs W+X memory");
    const exec = service(text, 'ExecStart')[0]!.split(' ');
    assert.equal(exec[0], process.execPath);
    assert.deepEqual(exec.slice(1, 1 + MASTER_V8_FLAGS.length), [...MASTER_V8_FLAGS], "the master's V8 flags, which socket activation keeps the CLI from adding itself");
    const rest = exec.slice(1 + MASTER_V8_FLAGS.length);
    assert.equal(rest[0], KIRIN_BIN);
    assert.deepEqual(rest.slice(1, 3), ['serve', '--config']);
    assert.ok(rest[3]!.startsWith('/'));
  });

  it('the verify harness does fail on a broken unit', async () => {
    const broken = unitsFor(PUBLIC_SITE).files[0]!.text.replace('Restart=always', 'Restart=sometimes').replace(process.execPath, '/nonexistent/node');
    const output = await verify([{ name: 'kirin.service', text: broken }]);
    assert.match(output, /restart specifier/);
    assert.match(output, /FAILED: .*\/nonexistent\/node/s);
  });

  it('stops after the graceful timeout, not before', () => {
    const text = unitsFor({ ...PUBLIC_SITE, gracefulTimeout: '60s', services: { worker: { command: 'sleep 1000', stopTimeout: '20s' } } }).files[0]!.text;
    assert.equal(Number(service(text, 'TimeoutStopSec')[0]), 60 + 20 + 10);
  });

  it('ports from 1024 up: no capability at all', async () => {
    const units = unitsFor({ listen: { http: ['127.0.0.1:8000'] }, sites: { '*': { '/': { app: './app.ts' } } } });
    const text = units.files[0]!.text;
    assert.equal(service(text, 'AmbientCapabilities').length, 0);
    assert.match(text, /^CapabilityBoundingSet=$/m);
    assert.equal(await verify(units.files), '');
  });

  it('opens exactly the folders Kirin writes: log files, pid file, an explicit state folder', async () => {
    const dir = tempDir('kirin-unit-');
    mkdirSync(join(dir, 'logs'));
    const units = unitsFor({ ...PUBLIC_SITE, accessLog: './logs/access.log', pidFile: './run/kirin.pid', stateDir: '/srv/kirin-state' }, { dir, stateDirExplicit: true, writable: [join(dir, 'uploads')] });
    const paths = service(units.files[0]!.text, 'ReadWritePaths')[0]!.split(' ').sort();
    assert.deepEqual(paths, ['/srv/kirin-state', join(dir, 'logs'), join(dir, 'run'), join(dir, 'uploads')].sort());
    assert.deepEqual(units.readWritePaths.sort(), paths);
  });

  it('an app in /srv: PrivateTmp=yes and ProtectHome=yes', () => {
    const raw = { listen: { http: [':80'] }, sites: { 'example.com': { '/': { app: './app.ts' } } } };
    const plan = normalizeConfig({ raw, file: '/srv/example.com/kirin.config.json', cwd: '/srv/example.com', env: { STATE_DIRECTORY: '/var/lib/kirin' } });
    const units = buildUnits({ name: 'kirin', plan, serveArgs: ['--config', '/srv/example.com/kirin.config.json'], workingDirectory: '/srv/example.com', nodePath: '/usr/bin/node', kirinBin: '/srv/example.com/node_modules/kirin/dist/cli/bin.js', user: 'kirin', group: null, socket: false, stateDirExplicit: false, writable: [] });
    const text = units.files[0]!.text;
    assert.deepEqual(service(text, 'PrivateTmp'), ['yes']);
    assert.deepEqual(service(text, 'ProtectHome'), ['yes']);
    assert.equal(service(text, 'Group').length, 0, 'no Group= when the group is not known: systemd uses the primary group');
    assert.deepEqual(units.readWritePaths, [], 'state lives in StateDirectory=, nothing else is writable');
    assert.deepEqual(units.notes, ['port 80 is below 1024: the unit grants CAP_NET_BIND_SERVICE (and no other capability) instead of running as root']);
  });

  it('an app under /home gets ProtectHome=read-only, and says why', async () => {
    const units = unitsFor(PUBLIC_SITE, { workingDirectory: '/home/alice/site' });
    assert.deepEqual(service(units.files[0]!.text, 'ProtectHome'), ['read-only']);
    assert.match(units.notes.join('\n'), /\/home\/alice\/site is under \/home: ProtectHome=read-only/);
    // Elsewhere, yes — unless Node or Kirin themselves live in a home folder (a checkout in /root).
    const toolsInHome = [process.execPath, KIRIN_BIN].some((path) => /^\/(home|root|run\/user)\//.test(path));
    assert.deepEqual(service(unitsFor(PUBLIC_SITE).files[0]!.text, 'ProtectHome'), [toolsInHome ? 'read-only' : 'yes']);
  });

  it('quotes paths with spaces in ExecStart', async () => {
    const dir = join(tempDir('kirin-unit-'), 'my site');
    mkdirSync(dir);
    const units = unitsFor(PUBLIC_SITE, { dir });
    assert.match(service(units.files[0]!.text, 'ExecStart')[0]!, /--config "\/.*\/my site\/kirin\.config\.json"$/);
    assert.equal(await verify(units.files), '');
  });
});

describe('kirin install --socket', () => {
  it('writes kirin.socket (http) and kirin-https.socket (https), and the service needs no capability', async () => {
    const units = unitsFor(PUBLIC_SITE, { socket: true });
    assert.deepEqual(units.files.map((f) => f.name), ['kirin.service', 'kirin.socket', 'kirin-https.socket']);
    const [svc, http, https] = units.files.map((f) => parseUnit(f.text));
    assert.deepEqual(unitValues(http!, 'Socket', 'ListenStream'), ['80']);
    assert.deepEqual(unitValues(http!, 'Socket', 'FileDescriptorName'), ['http']);
    assert.deepEqual(unitValues(https!, 'Socket', 'ListenStream'), ['443']);
    assert.deepEqual(unitValues(https!, 'Socket', 'FileDescriptorName'), ['https'], 'Kirin serves TLS on descriptors named https');
    assert.deepEqual(unitValues(svc!, 'Service', 'Sockets'), ['kirin.socket kirin-https.socket']);
    assert.equal(unitValues(svc!, 'Service', 'AmbientCapabilities').length, 0);
    assert.equal(await verify(units.files), '');
  });
});

describe('kirin install --socket with PROXY protocol listeners', () => {
  it('puts them in sockets of their own named http-proxy and https-proxy, so activation keeps the flag', async () => {
    const units = unitsFor({ ...PUBLIC_SITE, trustedProxies: ['10.77.0.1'], listen: { http: [':80', { address: '10.77.0.2:80', proxyProtocol: true }], https: [{ address: '10.77.0.2:443', proxyProtocol: true }] } }, { socket: true });
    assert.deepEqual(units.files.map((f) => f.name), ['kirin.service', 'kirin.socket', 'kirin-proxy.socket', 'kirin-https-proxy.socket']);
    const [svc, http, httpProxy, httpsProxy] = units.files.map((f) => parseUnit(f.text));
    assert.deepEqual(unitValues(http!, 'Socket', 'ListenStream'), ['80']);
    assert.deepEqual(unitValues(httpProxy!, 'Socket', 'ListenStream'), ['10.77.0.2:80']);
    assert.deepEqual(unitValues(httpProxy!, 'Socket', 'FileDescriptorName'), ['http-proxy']);
    assert.deepEqual(unitValues(httpsProxy!, 'Socket', 'FileDescriptorName'), ['https-proxy']);
    assert.deepEqual(unitValues(svc!, 'Service', 'Sockets'), ['kirin.socket kirin-proxy.socket kirin-https-proxy.socket']);
    assert.equal(await verify(units.files), '');
  });
});

describe('kirin check reads the installed unit back', () => {
  it('finds the unit serving this config: user, capability, environment, state folder', () => {
    const dir = tempDir('kirin-unit-');
    const units = unitsFor(PUBLIC_SITE, { dir });
    const unitDir = join(dir, 'units');
    mkdirSync(unitDir);
    writeFileSync(join(unitDir, 'other.service'), '[Service]\nExecStart=/usr/bin/true\n');
    writeFileSync(join(unitDir, 'kirin.service'), units.files[0]!.text);
    const unit = findInstalledUnit(unitDir, join(dir, 'kirin.config.json'));
    assert.ok(unit);
    assert.equal(unit.user, 'kirin');
    assert.deepEqual(unit.ambientCapabilities, ['CAP_NET_BIND_SERVICE']);
    assert.equal(unit.environment.NODE_ENV, 'production');
    assert.deepEqual(unit.environmentFiles, [join(dir, '.env')]);
    assert.equal(unit.environment.STATE_DIRECTORY, '/var/lib/kirin');
    assert.equal(unit.socketActivated, false);
    assert.equal(findInstalledUnit(unitDir, '/elsewhere/kirin.config.ts'), null);
  });
});

describe('kirin install: steps', () => {
  const units = () => unitsFor(PUBLIC_SITE).files;

  it('--dry-run prints the units and the useradd it would run, and writes nothing', async () => {
    let printed = '';
    const calls: string[] = [];
    const run: CommandRunner = async (file, args) => (calls.push([file, ...args].join(' ')), null);
    const unitDir = join(tempDir('kirin-units-'), 'system');
    const written = await performInstall({ unitDir, files: units(), createUser: createUserCommand('kirin', '/var/lib/kirin'), createFolders: [], dryRun: true, run, print: (t) => (printed += t) });
    assert.deepEqual(written, []);
    assert.deepEqual(calls, []);
    assert.match(printed, /# would run: useradd --system --user-group --home-dir \/var\/lib\/kirin --no-create-home --shell \/usr\/sbin\/nologin kirin/);
    assert.match(printed, /# ==> .*system\/kirin\.service <==\n# Written by `kirin install`/);
    assert.match(nextSteps('kirin', false, true), /Nothing was written/);
  });

  it('creates the user, then writes the units', async () => {
    const calls: string[] = [];
    const run: CommandRunner = async (file, args) => (calls.push([file, ...args].join(' ')), { code: 0, stdout: '', stderr: '' });
    const unitDir = join(tempDir('kirin-units-'), 'system');
    const written = await performInstall({ unitDir, files: units(), createUser: createUserCommand('kirin', '/var/lib/kirin'), createFolders: [], dryRun: false, run, print: () => {} });
    assert.equal(calls[0], 'useradd --system --user-group --home-dir /var/lib/kirin --no-create-home --shell /usr/sbin/nologin kirin');
    assert.deepEqual(written, [join(unitDir, 'kirin.service')]);
    assert.match(readFileSync(written[0]!, 'utf8'), /^Type=notify$/m);
  });

  it('a failing useradd stops the install with the command in the message', async () => {
    const run: CommandRunner = async () => ({ code: 9, stdout: '', stderr: "useradd: user 'kirin' already exists" });
    await assert.rejects(
      performInstall({ unitDir: tempDir(), files: units(), createUser: createUserCommand('kirin', '/var/lib/kirin'), createFolders: [], dryRun: false, run, print: () => {} }),
      /could not create the user: useradd .* failed: useradd: user 'kirin' already exists/,
    );
  });

  it('looks users up with getent and id', async () => {
    const run: CommandRunner = async (file, args) => {
      if (file === 'getent') return args[1] === 'www' ? { code: 0, stdout: 'www:x:33:33::/var/www:/usr/sbin/nologin\n', stderr: '' } : { code: 2, stdout: '', stderr: '' };
      if (file === 'id') return { code: 0, stdout: args[0] === '-G' ? '33 44\n' : 'www-data\n', stderr: '' };
      return null;
    };
    assert.deepEqual(await lookUpUser('www', run), { name: 'www', group: 'www-data', exists: true, uid: 33, gids: [33, 44] });
    assert.deepEqual(await lookUpUser('nobody-here', run), { name: 'nobody-here', group: null, exists: false, uid: null, gids: [] });
  });
});
