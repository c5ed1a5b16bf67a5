/**
 * `kirin check`: for every check ID, a project that triggers it and the good
 * project that does not. Projects are real folders; the machine's facts
 * (user, CPUs, clock, firewall output) are injected.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { auditFailed } from '../../src/ops/check/audit.ts';
import { CHECK_IDS, CHECKS } from '../../src/ops/check/catalog.ts';
import { formatReportJson, formatReportText } from '../../src/ops/check/report.ts';
import { audit, fixture, FIXTURES, goodConfig, goodEnvFile, ids, makeProject, ok, STRONG_SECRET } from './audit-support.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('kirin check: the good project', () => {
  it('has no finding at all with --deploy', async () => {
    const report = await audit();
    assert.deepEqual(report.findings, [], JSON.stringify(report.findings, null, 2));
    assert.equal(auditFailed(report, true), false);
  });

  it('every check ID has a section in docs/checks.md', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'checks.md'), 'utf8');
    for (const id of CHECK_IDS) assert.match(docs, new RegExp(`^## ${id}\\b`, 'm'), `docs/checks.md has no "## ${id}" section`);
  });
});

describe('K001 configuration error', () => {
  it('reports each config problem with the file and key path', async () => {
    const report = await audit({ config: { ...goodConfig(), workers: 'many', listen: { http: ['nowhere'] } } });
    const problems = report.findings.filter((f) => f.id === 'K001');
    assert.ok(problems.some((f) => f.where?.endsWith('kirin.config.json: workers')));
    assert.ok(problems.some((f) => f.where?.endsWith('kirin.config.json: listen.http[0]')));
    assert.equal(auditFailed(report, false), true);
  });

  it('reports a config file that does not parse, and runs without --deploy', async () => {
    const report = await audit({ config: '{ "sites": ', deploy: false });
    assert.deepEqual(ids(report), ['K001']);
    assert.match(report.findings[0]!.message, /not valid JSON/);
  });

  it('reports an env file that cannot be read', async () => {
    const report = await audit({ config: { ...goodConfig(), envFiles: ['.env', '.env.missing'] } });
    assert.ok(report.findings.some((f) => f.id === 'K001' && f.where?.endsWith('.env.missing')));
  });
});

describe('K002 NODE_ENV is not production', () => {
  it('fires when NODE_ENV is another value than production', async () => {
    assert.ok(ids(await audit({ files: { '.env': goodEnvFile().replace('production', 'staging') } })).includes('K002'));
  });

  it('stays quiet when NODE_ENV is unset: kirin serve sets it to production', async () => {
    assert.ok(!ids(await audit({ files: { '.env': `SECRET_KEY=${STRONG_SECRET}\n` } })).includes('K002'));
  });

  it('the environment wins over the env file, as in serve', async () => {
    const report = await audit({ env: { NODE_ENV: 'test' } });
    const found = report.findings.find((f) => f.id === 'K002');
    assert.ok(found);
    assert.match(found.where!, /the environment/);
  });

  it("with an installed unit, the unit's environment is audited, not the shell's", async () => {
    const unit = { path: '/etc/systemd/system/kirin.service', user: 'kirin', ambientCapabilities: ['CAP_NET_BIND_SERVICE'], environment: { NODE_ENV: 'production' }, environmentFiles: [], socketActivated: false };
    const report = await audit({ env: { NODE_ENV: 'development', DEBUG: '1' }, files: { '.env': `SECRET_KEY=${STRONG_SECRET}\n` }, host: { unit } });
    assert.deepEqual(ids(report), []);
  });

  it('is a production check: not reported without --deploy', async () => {
    assert.ok(!ids(await audit({ env: { NODE_ENV: 'test' }, deploy: false })).includes('K002'));
  });
});

describe('K003 debug mode', () => {
  it('fires on DEBUG=true/1, NODE_ENV=development and --inspect', async () => {
    assert.ok(ids(await audit({ files: { '.env': goodEnvFile('DEBUG=true\n') } })).includes('K003'));
    assert.ok(ids(await audit({ env: { DEBUG: '1' } })).includes('K003'));
    const dev = ids(await audit({ files: { '.env': goodEnvFile().replace('production', 'development') } }));
    assert.ok(dev.includes('K003') && !dev.includes('K002'));
    assert.ok(ids(await audit({ env: { NODE_ENV: 'production', NODE_OPTIONS: '--inspect=0.0.0.0:9229' } })).includes('K003'));
  });

  it('does not fire on DEBUG=false or a DEBUG namespace list', async () => {
    assert.ok(!ids(await audit({ env: { DEBUG: 'false' } })).includes('K003'));
    assert.ok(!ids(await audit({ env: { DEBUG: '' } })).includes('K003'));
  });
});

describe('K004–K006 secret strength', () => {
  const SHORT = 'k3Xp9-qLm2Zt8_wRv5Yb';
  it('K004: a secret shorter than 50 characters, without printing it', async () => {
    const report = await audit({ files: { '.env': `NODE_ENV=production\nSECRET_KEY=${SHORT}\n` } });
    const found = report.findings.find((f) => f.id === 'K004');
    assert.ok(found);
    assert.match(found.message, /SECRET_KEY is 20 characters long/);
    assert.ok(!formatReportJson(report, true).includes(SHORT), 'the JSON report contains the secret');
    assert.ok(!formatReportText(report, true).includes(SHORT), 'the text report contains the secret');
  });

  it('K004 looks at names like *SECRET*, *KEY*, *TOKEN*, *PASSWORD*, not at IDs and public keys', async () => {
    const report = await audit({ files: { '.env': `${goodEnvFile()}GITHUB_TOKEN=abc123def456\nDB_PASSWORD=hunter22x\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nSTRIPE_PUBLISHABLE_KEY=pk_live_1\nPORT=8000\n` } });
    const named = report.findings.filter((f) => f.id === 'K004' || f.id === 'K006').map((f) => f.where!.split(' ')[0]);
    assert.deepEqual(named.sort(), ['DB_PASSWORD', 'GITHUB_TOKEN']);
  });

  it('K005: fewer than 5 distinct characters', async () => {
    const report = await audit({ files: { '.env': `NODE_ENV=production\nSECRET_KEY=${'abab'.repeat(20)}\n` } });
    assert.deepEqual(ids(report), ['K005']);
  });

  it('K006: placeholders, changeme and django-insecure- keys', async () => {
    for (const value of ['changeme', 'secret', `django-insecure-${STRONG_SECRET}`, 'replace-me-with-kirin-secret']) {
      const report = await audit({ files: { '.env': `NODE_ENV=production\nSECRET_KEY=${value}\n` } });
      assert.deepEqual(ids(report), ['K006'], value);
    }
  });

  it('a strong secret passes (the good project)', async () => {
    const report = await audit({ env: { SESSION_SECRET: STRONG_SECRET.split('').reverse().join('') } });
    assert.deepEqual(ids(report), []);
  });
});

describe('K007 same secret in two env files', () => {
  it('fires when .env and .env.staging share a secret value, naming files not values', async () => {
    const report = await audit({ files: { '.env.staging': `NODE_ENV=production\nSECRET_KEY=${STRONG_SECRET}\n` } });
    const found = report.findings.find((f) => f.id === 'K007');
    assert.ok(found);
    assert.match(found.message, /SECRET_KEY in \.env, SECRET_KEY in \.env\.staging/);
    assert.ok(!found.message.includes(STRONG_SECRET));
  });

  it('does not fire for different values, or for the committed .env.example', async () => {
    const report = await audit({ files: { '.env.staging': `SECRET_KEY=${STRONG_SECRET.slice(1)}x\n`, '.env.example': `SECRET_KEY=${STRONG_SECRET}\n` } });
    assert.ok(!ids(report).includes('K007'));
  });
});

describe('K008 env file readable by other users', () => {
  it('fires on mode 644 and names the chmod', async () => {
    const report = await audit({ modes: { '.env': 0o644 } });
    assert.deepEqual(ids(report), ['K008']);
    assert.match(report.findings[0]!.fix, /chmod 600 .*\.env/);
  });

  it('does not fire on 600 or 640', async () => {
    assert.deepEqual(ids(await audit({ modes: { '.env': 0o640 } })), []);
  });
});

describe('K009 env file tracked by git', () => {
  it('fires when git tracks .env (a real repository)', async () => {
    const dir = makeProject();
    execFileSync('git', ['init', '-q', dir]);
    execFileSync('git', ['-C', dir, 'add', '.env']);
    const report = await audit({}, dir);
    assert.deepEqual(ids(report), ['K009']);
    assert.match(report.findings[0]!.fix, /git rm --cached \.env/);
  });

  it('does not fire for an ignored .env in a repository', async () => {
    const dir = makeProject({ files: { '.gitignore': '.env\n' } });
    execFileSync('git', ['init', '-q', dir]);
    execFileSync('git', ['-C', dir, 'add', '.']);
    assert.deepEqual(ids(await audit({}, dir)), []);
  });
});

describe('K010 secret file inside a static root', () => {
  it('fires when the static root is the project folder, even without --deploy', async () => {
    const config = goodConfig();
    (config.sites as Record<string, Record<string, unknown>>)['example.com']!['/static/'] = { static: '.' };
    const report = await audit({ config, deploy: false });
    const found = report.findings.filter((f) => f.id === 'K010').map((f) => f.where!.split('/').at(-1));
    assert.deepEqual(found.sort(), ['.env', 'kirin.config.json']);
  });

  it('does not fire for a sibling folder whose name starts with the root (path boundary)', async () => {
    const config = { ...goodConfig(), envFiles: ['public-secrets/.env'] };
    const report = await audit({ config, files: { 'public-secrets/.env': goodEnvFile() }, modes: { 'public-secrets/.env': 0o600 } });
    assert.ok(!ids(report).includes('K010'));
  });
});

describe('K011, K012 host names', () => {
  it("K011: a catch-all '*' site", async () => {
    const config = { ...goodConfig(), sites: { '*': { '/': { app: './app.ts' } }, 'example.com': { '/': { app: './app.ts' } } } };
    assert.deepEqual(ids(await audit({ config })), ['K011']);
  });

  it('K012: no public host name (only localhost and a .test name)', async () => {
    const config = { ...goodConfig(), listen: { http: [':8080'] }, sites: { 'localhost, shop.test': { '/': { app: './app.ts' } } } };
    assert.deepEqual(ids(await audit({ config })), ['K012']);
  });
});

describe('K013, K014 TLS and HSTS', () => {
  it('K013: tls off for a public name', async () => {
    const config = { ...goodConfig(), sites: { 'example.com': { tls: 'off', '/': { app: './app.ts' } } } };
    const report = await audit({ config });
    assert.deepEqual(ids(report), ['K013']);
  });

  it('K013: no https listener, with the listen fix', async () => {
    const report = await audit({ config: { ...goodConfig(), listen: { http: [':80'] } } });
    assert.deepEqual(ids(report), ['K013']);
    assert.match(report.findings[0]!.fix, /https: \[':443'\]/);
  });

  it('K013 does not fire behind a TLS-terminating proxy (trustedProxies set)', async () => {
    const report = await audit({ config: { ...goodConfig(), listen: { http: ['127.0.0.1:8000'] }, trustedProxies: ['127.0.0.1'] } });
    assert.deepEqual(ids(report), []);
  });

  it('K014: hsts false, or shorter than a year', async () => {
    for (const hsts of [false, 3600]) {
      const config = { ...goodConfig(), sites: { 'example.com': { hsts, '/': { app: './app.ts' } } } };
      assert.deepEqual(ids(await audit({ config })), ['K014'], String(hsts));
    }
  });
});

describe('K015 trustedProxies trusts everyone', () => {
  it('fires on 0.0.0.0/0 and ::/0, even without --deploy', async () => {
    for (const range of ['0.0.0.0/0', '::/0']) {
      const report = await audit({ config: { ...goodConfig(), trustedProxies: ['127.0.0.1', range] }, deploy: false });
      assert.deepEqual(ids(report), ['K015'], range);
    }
  });

  it('does not fire for a proxy address', async () => {
    assert.deepEqual(ids(await audit({ config: { ...goodConfig(), trustedProxies: ['10.0.0.0/8'] } })), []);
  });
});

describe('K016 admin listener reachable without a token', () => {
  it('fires for a public admin address without a token (instead of a K001 for the same thing)', async () => {
    const report = await audit({ config: { ...goodConfig(), admin: { listen: '0.0.0.0:9180' } }, deploy: false });
    assert.deepEqual(ids(report), ['K016']);
  });

  it('fires when a site proxies to the token-less admin listener', async () => {
    const config = { ...goodConfig(), sites: { 'example.com': { '/': { app: './app.ts' }, '/kirin/': { proxy: 'http://127.0.0.1:9180' } } } };
    const report = await audit({ config });
    assert.deepEqual(ids(report), ['K016']);
    assert.match(report.findings[0]!.message, /\/kirin\//);
  });

  it('does not fire with a token, or on loopback', async () => {
    const token = STRONG_SECRET;
    assert.deepEqual(ids(await audit({ config: { ...goodConfig(), admin: { listen: '0.0.0.0:9180', token } } })), []);
    assert.deepEqual(ids(await audit({ config: { ...goodConfig(), admin: { listen: '127.0.0.1:9180' } } })), []);
  });
});

describe('K017, K018 static roots', () => {
  it('K017: dotfiles in a static root, without --deploy too', async () => {
    const report = await audit({ files: { 'public/.git/config': '[core]\n', 'public/.well-known/security.txt': 'Contact: x\n' }, deploy: false });
    assert.deepEqual(ids(report), ['K017']);
    assert.match(report.findings[0]!.message, /\.git/);
    assert.doesNotMatch(report.findings[0]!.message, /well-known/);
  });

  it('K018: a symlink that leaves the root; one that stays inside is fine', async () => {
    const report = await audit({ files: { 'public/img/logo.svg': '<svg/>' }, symlinks: { 'public/passwd': '/etc/passwd', 'public/logo.svg': 'img/logo.svg' } });
    assert.deepEqual(ids(report), ['K018']);
    assert.match(report.findings[0]!.message, /passwd → \/etc\/passwd/);
    assert.doesNotMatch(report.findings[0]!.message, /logo/);
  });
});

describe('K019, K020 user and ports', () => {
  it('K019: running as root', async () => {
    assert.deepEqual(ids(await audit({ host: { processUid: 0 } })), ['K019']);
  });

  it('K019 judges the installed unit, not the shell: root shell, User=kirin unit', async () => {
    const unit = { path: '/etc/systemd/system/kirin.service', user: 'kirin', ambientCapabilities: ['CAP_NET_BIND_SERVICE'], environment: {}, environmentFiles: [], socketActivated: false };
    const report = await audit({ host: { processUid: 0, unit } });
    assert.ok(!ids(report).includes('K019') && !ids(report).includes('K020'));
    const root = await audit({ host: { processUid: 1000, unit: { ...unit, user: null } } });
    assert.ok(ids(root).includes('K019'));
  });

  it('K020: ports 80/443 without CAP_NET_BIND_SERVICE', async () => {
    const report = await audit({ host: { processCanBindLowPorts: false } });
    assert.deepEqual(ids(report), ['K020']);
    assert.match(report.findings[0]!.message, /80, 443/);
  });

  it('K020 does not fire when the unit grants the capability, the sysctl allows it, or systemd binds the sockets', async () => {
    const unit = { path: '/x/kirin.service', user: 'kirin', ambientCapabilities: ['CAP_NET_BIND_SERVICE'], environment: {}, environmentFiles: [], socketActivated: false };
    assert.ok(!ids(await audit({ host: { processCanBindLowPorts: false, unit } })).includes('K020'));
    assert.ok(!ids(await audit({ host: { processCanBindLowPorts: false, unprivilegedPortStart: 80 } })).includes('K020'));
    assert.ok(!ids(await audit({ host: { processCanBindLowPorts: false, unit: { ...unit, ambientCapabilities: [], socketActivated: true } } })).includes('K020'));
  });
});

describe('K021, K022 worker count', () => {
  it('K021: more than twice the CPUs', async () => {
    assert.deepEqual(ids(await audit({ config: { ...goodConfig(), workers: 16 }, host: { cpus: 4 } })), ['K021']);
    assert.deepEqual(ids(await audit({ config: { ...goodConfig(), workers: 8 }, host: { cpus: 4 } })), []);
  });

  it('K022: more than the memory holds at ~70 MB a worker', async () => {
    const report = await audit({ config: { ...goodConfig(), workers: 8 }, host: { cpus: 8, memoryBytes: 512 * 1024 ** 2 } });
    assert.deepEqual(ids(report), ['K022']);
    assert.match(report.findings[0]!.fix, /set workers to 4 or fewer/);
  });
});

describe('K023, K024 certificates', () => {
  function projectWithCertificate() {
    const dir = makeProject({ config: { ...goodConfig(), tls: { email: 'admin@example.com', storage: './tls' } } });
    const pem = readFileSync(join(FIXTURES, 'example.com.cert.pem'), 'utf8');
    const storage = join(dir, 'tls', 'certificates', 'example.com');
    execFileSync('mkdir', ['-p', storage]);
    writeFileSync(join(storage, 'cert.pem'), pem);
    return dir;
  }
  const notAfter = Date.parse(new X509Certificate(readFileSync(join(FIXTURES, 'example.com.cert.pem'))).validTo);
  const DAY = 86_400_000;

  it('K023: under 14 days left, and expired', async () => {
    const soon = await audit({ config: { ...goodConfig(), tls: { email: 'admin@example.com', storage: './tls' } }, host: { now: notAfter - 5 * DAY } }, projectWithCertificate());
    assert.deepEqual(ids(soon), ['K023']);
    assert.match(soon.findings[0]!.message, /example\.com, www\.example\.com expires on .* in 4 days|in 5 days/);
    const expired = await audit({ host: { now: notAfter + DAY } }, projectWithCertificate());
    assert.match(expired.findings.find((f) => f.id === 'K023')!.message, /expired on/);
  });

  it('K023 does not fire with 30 days left', async () => {
    assert.deepEqual(ids(await audit({ host: { now: notAfter - 30 * DAY } }, projectWithCertificate())), []);
  });

  it('K023 reads certificate files a site names too', async () => {
    const dir = makeProject({
      config: { ...goodConfig(), sites: { 'example.com': { tls: { cert: './site.pem', key: './site.key' }, '/': { app: './app.ts' } } } },
      files: { 'site.pem': readFileSync(join(FIXTURES, 'example.com.cert.pem'), 'utf8'), 'site.key': 'unused' },
    });
    assert.deepEqual(ids(await audit({ host: { now: notAfter - DAY } }, dir)), ['K023']);
  });

  it('K024: ACME sites without an e-mail (info: does not fail, even with --strict)', async () => {
    const report = await audit({ config: { ...goodConfig(), tls: undefined } });
    assert.deepEqual(ids(report), ['K024']);
    assert.equal(report.findings[0]!.severity, 'info');
    assert.equal(auditFailed(report, true), false);
  });
});

describe('K025 firewall', () => {
  it('ufw active without 80/443: prints the ufw command', async () => {
    const report = await audit({ commands: { ufw: () => ok(fixture('firewall/ufw-verbose-ssh-only.txt')) } });
    assert.deepEqual(ids(report), ['K025']);
    assert.equal(report.findings[0]!.fix, 'sudo ufw allow 80,443/tcp');
  });

  it('ufw allowing them (app profile), inactive, or allowing everything: no finding', async () => {
    for (const file of ['ufw-verbose-app-profiles.txt', 'ufw-inactive.txt', 'ufw-default-allow.txt']) {
      assert.deepEqual(ids(await audit({ commands: { ufw: () => ok(fixture(`firewall/${file}`)) } })), [], file);
    }
  });

  it('ufw that needs root: a note, no finding', async () => {
    const report = await audit({ commands: { ufw: () => ({ code: 1, stdout: '', stderr: 'ERROR: You need to be root to run this script\n' }) } });
    assert.deepEqual(ids(report), []);
    assert.match(report.notes.join('\n'), /ufw status verbose.*need to be root/);
  });

  it('nftables dropping by default without 80/443: prints the nft command', async () => {
    const report = await audit({ commands: { nft: () => ok(fixture('firewall/nft-server-ssh-only.txt')) } });
    assert.deepEqual(ids(report), ['K025']);
    assert.match(report.findings[0]!.fix, /^sudo nft insert rule inet filter input tcp dport \{ 80, 443 \} accept/);
  });

  it('nftables allowing them, or accepting by default: no finding', async () => {
    for (const file of ['nft-server-web.txt', 'nft-debian-default.txt']) {
      assert.deepEqual(ids(await audit({ commands: { nft: () => ok(fixture(`firewall/${file}`)) } })), [], file);
    }
  });

  it('a loopback-only listener needs no firewall rule', async () => {
    const report = await audit({ config: { ...goodConfig(), listen: { http: ['127.0.0.1:8000'] }, trustedProxies: ['127.0.0.1'] }, commands: { ufw: () => ok(fixture('firewall/ufw-verbose-ssh-only.txt')) } });
    assert.deepEqual(ids(report), []);
  });
});

describe('kirin check: modes', () => {
  it('without --deploy only the checks marked for every run report', async () => {
    const report = await audit({ env: { NODE_ENV: 'development' }, host: { processUid: 0 }, deploy: false });
    assert.deepEqual(ids(report), []);
    for (const f of (await audit({ env: { NODE_ENV: 'development' }, host: { processUid: 0 } })).findings) assert.equal(CHECKS[f.id].deploy, true);
  });

  it('--strict fails on warnings; --ignore drops a check', async () => {
    const report = await audit({ host: { processUid: 0 } });
    assert.deepEqual(ids(report), ['K019']);
    assert.equal(auditFailed(report, false), false);
    assert.equal(auditFailed(report, true), true);
    const ignored = await audit({ host: { processUid: 0 }, ignore: ['K019'] });
    assert.deepEqual(ids(ignored), []);
    assert.deepEqual(ignored.ignored, ['K019']);
  });

  it('every finding links its docs anchor and says what to change', async () => {
    const report = await audit({ config: { ...goodConfig(), workers: 64, trustedProxies: ['0.0.0.0/0'] }, host: { processUid: 0, cpus: 2 }, modes: { '.env': 0o644 } });
    assert.ok(report.findings.length >= 4);
    for (const f of report.findings) {
      assert.equal(f.docs, `docs/checks.md#${f.id.toLowerCase()}`);
      assert.ok(f.fix.length > 10, f.id);
    }
  });
});

describe('K034 runs in dev mode', () => {
  it('fires when the installed service starts kirin dev, not for kirin serve', async () => {
    const unit = { path: '/etc/systemd/system/kirin.service', user: 'kirin', ambientCapabilities: ['CAP_NET_BIND_SERVICE'], environment: {}, environmentFiles: [], socketActivated: false };
    const dev = await audit({ host: { unit: { ...unit, runsDev: true } } });
    assert.deepEqual(ids(dev), ['K034']);
    assert.match(dev.findings[0]!.message, /kirin dev/);
    assert.match(dev.findings[0]!.fix ?? '', /kirin serve/);
    assert.deepEqual(ids(await audit({ host: { unit: { ...unit, runsDev: false } } })), []);
    assert.ok(!ids(await audit({ host: { unit: { ...unit, runsDev: true } }, deploy: false })).includes('K034'), 'a deploy check');
  });
});
