/** The deploy's pure parts: config, host specs, prune choice, rsync stats, ssh's errors, stale locks. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/issues.ts';
import { normalizeConfig } from '../../src/config/normalize.ts';
import { normalizeDeploy } from '../../src/deploy/config.ts';
import { healthTargets } from '../../src/deploy/health-gate.ts';
import { parseHostSpec } from '../../src/deploy/host-spec.ts';
import { newReleaseId, RELEASE_ID } from '../../src/deploy/layout.ts';
import { staleReason } from '../../src/deploy/lock.ts';
import { previousRelease, releasesToPrune } from '../../src/deploy/releases-on-host.ts';
import { formatReleases } from '../../src/deploy/list.ts';
import { shellQuote } from '../../src/deploy/shell.ts';
import { explainSshFailure } from '../../src/deploy/ssh-errors.ts';
import { parseRsyncStats } from '../../src/deploy/upload.ts';
import { tempDir } from '../support/kirin.ts';

function problems(deploy: unknown): string[] {
  const dir = tempDir();
  writeFileSync(join(dir, 'package.json'), '{"name":"@acme/shop"}');
  try {
    normalizeDeploy({ deploy }, join(dir, 'kirin.config.ts'));
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('deploy config', () => {
  it('applies the documented defaults: /srv/<package name>, keep 5, 30 s gate', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), '{"name":"@acme/shop"}');
    const plan = normalizeDeploy({ deploy: { hosts: 'deploy@203.0.113.7' } }, join(dir, 'kirin.config.ts'));
    assert.equal(plan.path, '/srv/shop');
    assert.equal(plan.keep, 5);
    assert.equal(plan.healthTimeoutMs, 30_000);
    assert.deepEqual(plan.hosts, [{ label: 'deploy@203.0.113.7', user: 'deploy', host: '203.0.113.7', port: null }]);
  });

  it('names the key path and what is expected', () => {
    const found = problems({ hosts: ['deploy@[2001:db8::1]:22', 'a b'], path: 'srv/app', keep: 1, hooks: { beforeSwitch: [3], after: [] }, shared: ['../x'] });
    assert.ok(found.some((p) => p.startsWith('deploy.hosts[1]: ')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('deploy.path: must be absolute')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('deploy.keep: expected a whole number from 2 to 100')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('deploy.hooks.after: unknown option; known: afterInstall, beforeSwitch, afterSwitch')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('deploy.hooks.beforeSwitch[0]: expected a command line')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('deploy.shared[0]: expected a plain path inside the app')), found.join('\n'));
    assert.equal(found.length, 6, found.join('\n'));
  });

  it('a state folder inside the app folder (uploaded with each release) is a config error naming stateDir; outside, or in a shared path, it is fine', () => {
    const stateDirProblems = (stateDir: string, shared: string[] = []) => {
      const dir = tempDir();
      writeFileSync(join(dir, 'package.json'), '{"name":"shop"}');
      try {
        normalizeDeploy({ stateDir, deploy: { hosts: 'deploy@203.0.113.7', shared } }, join(dir, 'kirin.config.ts'));
        return [];
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error.problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    for (const inside of ['./state', 'var/kirin', '/srv/shop/current/state', '/srv/shop/releases/20261204-172500-123/state']) {
      const found = stateDirProblems(inside);
      assert.equal(found.length, 1, `${inside}: ${found.join('\n')}`);
      assert.match(found[0]!, /^stateDir: ".*" lies inside the app folder, which kirin deploy uploads as a new release each time: .*kirin reload.*Remove stateDir .*\/var\/lib\/shop under systemd\), or set an absolute folder outside \/srv\/shop\/current and \/srv\/shop\/releases$/);
    }
    for (const outside of ['../state', '/var/lib/shop', '/srv/shop/shared/state']) assert.deepEqual(stateDirProblems(outside), [], outside);
    assert.deepEqual(stateDirProblems('./state', ['state/']), []);
    assert.deepEqual(stateDirProblems('./var/kirin', ['var']), []);
  });

  it('kirin serve accepts a config with a deploy section', () => {
    const plan = normalizeConfig({ raw: { sites: { 'a.test': { '/': { app: './app.ts' } } }, deploy: { hosts: ['x@y'] } }, file: '/srv/a/kirin.config.ts', cwd: '/srv/a', env: {} });
    assert.equal(plan.sites.length, 1);
  });
});

describe('host specs', () => {
  it('reads user@host, ports, IPv6 in brackets and ssh config names', () => {
    assert.deepEqual(parseHostSpec('web'), { label: 'web', user: null, host: 'web', port: null });
    assert.deepEqual(parseHostSpec('deploy@example.com:2222'), { label: 'deploy@example.com:2222', user: 'deploy', host: 'example.com', port: 2222 });
    assert.deepEqual(parseHostSpec('deploy@[2001:db8::1]:22'), { label: 'deploy@[2001:db8::1]:22', user: 'deploy', host: '2001:db8::1', port: 22 });
    assert.match(parseHostSpec('deploy@2001:db8::1') as string, /IPv6 address needs brackets/);
    assert.match(parseHostSpec('deploy@host:99999') as string, /from 1 to 65535/);
    assert.match(parseHostSpec('de ploy@host') as string, /not a user name/);
  });
});

describe('releases', () => {
  it('ids sort in time order', () => {
    const a = newReleaseId(new Date('2026-12-04T17:25:00.123Z'));
    assert.equal(a, '20261204-172500-123');
    assert.match(a, RELEASE_ID);
    assert.ok(newReleaseId(new Date('2026-12-04T17:25:01.000Z')) > a);
  });

  it("rollback's default is the newest older release that served: one whose deploy stopped before its gate is passed over; one recorded before servedAt existed counts as served", () => {
    const info = (id: string, servedAt: string | null | undefined) => ({ id, info: { id, commit: null, dirty: false, deployedAt: '', deployedBy: 'me', kirinVersion: '0.1.0', ...(servedAt === undefined ? {} : { servedAt }) } });
    const releases = [info('20261201-000000-000', undefined), info('20261202-000000-000', '2026-12-02T00:00:05Z'), info('20261203-000000-000', null), info('20261204-000000-000', '2026-12-04T00:00:05Z')];
    assert.equal(previousRelease({ releases, current: '20261204-000000-000' }), '20261202-000000-000');
    assert.equal(previousRelease({ releases, current: '20261202-000000-000' }), '20261201-000000-000');
    assert.equal(previousRelease({ releases, current: '20261201-000000-000' }), null);
    assert.match(formatReleases({ releases, current: '20261204-000000-000' }), /20261203-000000-000 .* never$/m);
  });

  it('prune keeps the newest `keep`, never current nor the release the master runs from, and the total stays `keep`', () => {
    const ids = ['20260101-000000-001', '20260102-000000-001', '20260103-000000-001', '20260104-000000-001', '20260105-000000-001'];
    assert.deepEqual(releasesToPrune(ids, 3, [ids[4]!]), [ids[0], ids[1]]);
    // The master still runs from the first release: it stays, and one more goes instead.
    assert.deepEqual(releasesToPrune(ids, 3, [ids[4]!, ids[0]!]), [ids[1], ids[2]]);
    // After a rollback, current is older than the newest: it stays.
    assert.deepEqual(releasesToPrune(ids, 2, [ids[1]!]), [ids[0], ids[2], ids[3]]);
  });
});

describe('rsync --stats', () => {
  it('reads files sent and bytes, with thousands separators', () => {
    const stats = parseRsyncStats(`
Number of files: 1,204 (reg: 1,100, dir: 104)
Number of created files: 1 (reg: 1)
Number of deleted files: 0
Number of regular files transferred: 1
Total file size: 52,113,220 bytes
Total transferred file size: 312 bytes
Literal data: 312 bytes
Matched data: 0 bytes
File list size: 0
Total bytes sent: 34,012
Total bytes received: 1,114
`);
    assert.deepEqual(stats, { filesTransferred: 1, files: 1204, bytesTransferred: 312, bytesSent: 34012 });
  });
});

describe("ssh's errors, explained", () => {
  it('host key changed: reinstall or interception, how to check, never skipped', () => {
    const text = explainSshFailure('deploy@example.com', '@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nOffending ED25519 key in /home/me/.ssh/known_hosts:7\nHost key verification failed.\n')!;
    assert.match(text, /not the one recorded for it in \/home\/me\/\.ssh\/known_hosts \(line 7\)/);
    assert.match(text, /ssh-keygen -R example\.com/);
    assert.match(text, /never skips this check/);
  });
  it('each kind of failure gets its own words; unknown text gets none', () => {
    assert.match(explainSshFailure('h', 'deploy@h: Permission denied (publickey).')!, /refused the login \(publickey\)/);
    assert.match(explainSshFailure('h', 'ssh: connect to host h port 22: Connection refused')!, /cannot reach the host over SSH \(Connection refused\)/);
    assert.match(explainSshFailure('h', 'ssh: Could not resolve hostname h: Name or service not known')!, /cannot reach the host/);
    assert.match(explainSshFailure('h', 'Host key verification failed.')!, /not in known_hosts/);
    assert.equal(explainSshFailure('h', 'bash: line 1: foo: command not found'), null);
  });
});

describe('the deploy lock', () => {
  const info = { token: 't', holder: 'me@laptop', machine: 'laptop', pid: 42, command: 'kirin deploy', since: '2026-12-04T17:00:00Z' };
  it('is stale when its holder on this machine is gone, or its heartbeat stopped', () => {
    assert.match(staleReason(info, 5, () => false, 'laptop')!, /pid 42 on this machine\) is gone/);
    assert.equal(staleReason(info, 5, () => true, 'laptop'), null);
    assert.equal(staleReason(info, 5, () => false, 'ci-runner'), null);
    assert.match(staleReason(info, 300, () => true, 'ci-runner')!, /stopped updating it 300 s ago/);
  });
});

describe('the health gate', () => {
  it('asks /readyz on the admin listener and the first site by its name; a chosen path must answer 2xx/3xx', () => {
    const serve = normalizeConfig({ raw: { listen: { http: ['0.0.0.0:8000'] }, sites: { 'shop.example.com': { tls: 'off', '/': { app: './app.ts' } } } }, file: '/srv/a/kirin.config.ts', cwd: '/srv/a', env: {} });
    const [readyz, site] = healthTargets(serve, '/up');
    assert.deepEqual([readyz!.path, readyz!.host, readyz!.port, readyz!.passBelow], ['/readyz', '127.0.0.1', 9180, 300]);
    assert.deepEqual([site!.path, site!.host, site!.port, site!.hostHeader, site!.passBelow], ['/up', '127.0.0.1', 8000, 'shop.example.com', 400]);
    assert.equal(healthTargets(serve, null)[1]!.passBelow, 500);
  });
});

describe('shell quoting', () => {
  it('quotes anything sh could read as syntax', () => {
    assert.equal(shellQuote('/srv/app'), '/srv/app');
    assert.equal(shellQuote("it's $(rm -rf /)"), `'it'\\''s $(rm -rf /)'`);
  });
});
