/**
 * The operations commands as a user runs them (the built dist/ CLI): secret,
 * check, install and export — and the production example from
 * docs/production.md going through install and `check --deploy` clean.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { request } from '../support/http.ts';
import { KIRIN_BIN, linkKirin, ROOT, runKirin, startKirin, tempDir, writeFiles } from '../support/kirin.ts';

const execFileAsync = promisify(execFile);

const kirin = runKirin;

/** The production example, copied into a fresh folder with a real .env, as docs/production.md walks it. */
async function productionExample(): Promise<string> {
  const dir = tempDir('kirin-production-');
  cpSync(join(ROOT, 'examples', 'production'), dir, { recursive: true });
  linkKirin(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'my-site', type: 'module', dependencies: { kirin: '^0.1.0' } }));
  const secret = (await kirin(['secret'], dir)).stdout.trim();
  writeFileSync(join(dir, '.env'), readFileSync(join(dir, '.env.example'), 'utf8').replace(/^SECRET_KEY=.*$/m, `SECRET_KEY=${secret}`));
  chmodSync(join(dir, '.env'), 0o600);
  return dir;
}

describe('kirin secret', () => {
  it('prints 64 URL-safe random characters, different each time', async () => {
    const [a, b] = await Promise.all([kirin(['secret'], ROOT), kirin(['secret'], ROOT)]);
    assert.equal(a.code, 0);
    assert.match(a.stdout, /^[A-Za-z0-9_-]{64}\n$/);
    assert.notEqual(a.stdout, b.stdout);
  });

  it('--length N; below 50 only with --force', async () => {
    assert.match((await kirin(['secret', '--length', '80'], ROOT)).stdout, /^[A-Za-z0-9_-]{80}\n$/);
    const refused = await kirin(['secret', '--length', '20'], ROOT);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--length 20 is below 50.*--force/);
    assert.match((await kirin(['secret', '--length', '20', '--force'], ROOT)).stdout, /^[A-Za-z0-9_-]{20}\n$/);
  });
});

describe('the production example (docs/production.md)', () => {
  it('docs/production.md shows the example config and app as they are in examples/production', () => {
    const guide = readFileSync(join(ROOT, 'docs', 'production.md'), 'utf8');
    for (const file of ['kirin.config.ts', 'app.ts']) {
      const example = readFileSync(join(ROOT, 'examples', 'production', file), 'utf8');
      assert.ok(guide.includes(example.trim()), `docs/production.md does not contain examples/production/${file} verbatim`);
    }
  });

  it('kirin install, then kirin check --deploy: no findings, exit 0', async () => {
    const dir = await productionExample();
    const unitDir = join(dir, 'units');
    const install = await kirin(['install', '--user', 'nobody', '--unit-dir', unitDir], dir);
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /sudo systemctl enable --now kirin\.service/);
    assert.match(install.stdout, /journalctl -u kirin -f/);
    const check = await kirin(['check', '--deploy', '--json', '--unit-dir', unitDir], dir);
    const report = JSON.parse(check.stdout) as { ok: boolean; findings: { id: string; message: string }[]; notes: string[] };
    assert.deepEqual(report.findings, []);
    assert.equal(report.ok, true);
    assert.equal(check.code, 0);
    // ufw and nft are not installed (or not active) on this machine: the firewall check runs and finds nothing.
    assert.ok(!report.notes.some((n) => n.startsWith('firewall')), report.notes.join('\n'));
  });

  it('serves: the app reads SECRET_KEY from .env, static files and the www redirect work (on loopback, without TLS)', async () => {
    const dir = await productionExample();
    const kirinProcess = await startKirin({ cwd: dir, args: ['serve', '--bind', '127.0.0.1:0', '--workers', '1', '--state-dir', join(dir, 'state')] });
    try {
      const page = await request(`${kirinProcess.url}/`, { headers: { host: 'example.com' } });
      assert.equal(page.status, 200);
      assert.match(String(page.headers['set-cookie']), /^session=[\w-]+\.[\w-]+; Path=\/; Secure; HttpOnly/);
      assert.equal((await request(`${kirinProcess.url}/static/style.css`, { headers: { host: 'example.com' } })).status, 200);
      const www = await request(`${kirinProcess.url}/a?b=1`, { headers: { host: 'www.example.com' } });
      assert.equal(www.headers.location, 'https://example.com/a?b=1');
      assert.equal((await request(`${kirinProcess.url}/`, { headers: { host: 'evil.test' } })).status, 421);
    } finally {
      await kirinProcess.stop();
    }
  });

  it('the same example with the placeholder secret and a readable .env fails, naming both', async () => {
    const dir = await productionExample();
    writeFileSync(join(dir, '.env'), readFileSync(join(dir, '.env.example')));
    chmodSync(join(dir, '.env'), 0o644);
    const check = await kirin(['check', '--deploy', '--unit-dir', join(dir, 'none')], dir);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /error +K006 +secret is a placeholder/);
    assert.match(check.stdout, /warning K008 +env file readable by other users/);
    assert.match(check.stdout, /fix: +chmod 600 /);
    assert.doesNotMatch(check.stdout, /replace-me-with-kirin-secret/, 'the secret value is printed');
  });
});

describe('kirin check', () => {
  it('a config error is a K001 finding with file and key; exit 1', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'kirin.config.json': JSON.stringify({ sites: { 'a.test': { '/': { ap: './app.ts' } } } }) });
    const check = await kirin(['check'], dir);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /error +K001 +configuration error/);
    assert.match(check.stdout, /kirin\.config\.json: sites\["a\.test"\]\["\/"\]/);
  });

  it('--strict turns a warning into a failure; --ignore takes it back; an unknown ID is a usage error', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'kirin.config.json': JSON.stringify({ sites: { 'a.test': { '/static/': { static: './public' } } } }), 'public/.git/HEAD': 'ref\n' });
    assert.equal((await kirin(['check'], dir)).code, 0);
    assert.equal((await kirin(['check', '--strict'], dir)).code, 1);
    assert.equal((await kirin(['check', '--strict', '--ignore', 'K017'], dir)).code, 0);
    const bad = await kirin(['check', '--ignore', 'K999'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown check K999/);
  });
});

describe('kirin install', () => {
  it('--dry-run prints the units and writes nothing; the written ones pass systemd-analyze verify', async () => {
    const dir = await productionExample();
    const unitDir = join(dir, 'units');
    const dry = await kirin(['install', '--dry-run', '--socket', '--user', 'nobody', '--unit-dir', unitDir], dir);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /# ==> .*units\/kirin\.service <==/);
    assert.match(dry.stdout, /# ==> .*units\/kirin-https\.socket <==/);
    assert.equal(existsSync(unitDir), false);
    const real = await kirin(['install', '--socket', '--user', 'nobody', '--unit-dir', unitDir], dir);
    assert.equal(real.code, 0, real.stderr);
    const files = readdirSync(unitDir).sort();
    assert.deepEqual(files, ['kirin-https.socket', 'kirin.service', 'kirin.socket']);
    const verify = await execFileAsync('systemd-analyze', ['verify', '--man=no', ...files.map((f) => join(unitDir, f))], { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' } });
    assert.equal(`${verify.stdout}${verify.stderr}`.trim(), '');
  });

  it('warns when the service user cannot run Node (nvm under /root, mode 700), naming the folder in the way', async () => {
    const dir = await productionExample();
    chmodSync(dir, 0o755);
    const hidden = tempDir('ke-nvm-');
    mkdirSync(join(hidden, 'bin'));
    symlinkSync(process.execPath, join(hidden, 'bin', 'node'));
    const dry = await kirin(['install', '--dry-run', '--user', 'nobody', '--node', join(hidden, 'bin', 'node'), '--unit-dir', join(dir, 'units')], dir);
    assert.equal(dry.code, 0);
    // A checkout in a folder nobody may enter (a clone in /root) adds the warning about Kirin itself: expected then, not otherwise.
    const kirinReadable = spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-r', KIRIN_BIN]).status === 0;
    const aboutKirin = (stderr: string) => stderr.split('\n').filter((line) => line.includes('cannot read Kirin at'));
    const others = (stderr: string) => stderr.split('\n').filter((line) => line !== '' && !line.includes('cannot read Kirin at'));
    assert.equal(aboutKirin(dry.stderr).length, kirinReadable ? 0 : 1, dry.stderr);
    assert.deepEqual(others(dry.stderr), [
      `kirin: warning: the user "nobody" cannot run Node at ${hidden}/bin/node: it may not enter the folder ${hidden} (mode 700, owner root, group root); install Node system-wide (docs/production.md, step 5: /usr/bin/node) or pass --node PATH to one it can run`,
    ]);
    const fine = await kirin(['install', '--dry-run', '--user', 'nobody', '--unit-dir', join(dir, 'units')], dir);
    assert.equal(aboutKirin(fine.stderr).length, kirinReadable ? 0 : 1, fine.stderr);
    const nodeRunnable = spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-x', process.execPath]).status === 0;
    assert.deepEqual(others(fine.stderr).length, nodeRunnable ? 0 : 1, `the Node running this command and the site are readable by nobody: ${fine.stderr}`);
  });

  it('a missing user is refused unless --create-user', async () => {
    const dir = await productionExample();
    const run = await kirin(['install', '--user', 'no-such-user-kirin', '--unit-dir', join(dir, 'units')], dir);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /the user "no-such-user-kirin" does not exist: add --create-user/);
    const dry = await kirin(['install', '--user', 'no-such-user-kirin', '--create-user', '--dry-run', '--unit-dir', join(dir, 'units')], dir);
    assert.match(dry.stdout, /# would run: useradd --system --user-group .* no-such-user-kirin/);
  });
});

describe('kirin export', () => {
  it('k8s writes the docker files and the manifests into ./deploy; --out - prints them', async () => {
    const dir = await productionExample();
    const run = await kirin(['export', 'k8s'], dir);
    assert.equal(run.code, 0, run.stderr);
    for (const file of ['Dockerfile', 'Dockerfile.dockerignore', 'kirin.container.config.mjs', 'k8s/deployment.yaml', 'k8s/ingress.yaml', 'k8s/configmap.yaml']) {
      assert.ok(existsSync(join(dir, 'deploy', file)), file);
    }
    assert.match(run.stderr, /TLS and routing between pods belong to the cluster's ingress/);
    assert.match(run.stderr, /kubectl create secret generic my-site-env --from-env-file=\.env/);
    const printed = await kirin(['export', 'k8s', '--out', '-'], dir);
    const kinds = parseAllDocuments(printed.stdout).map((d) => d.toJS().kind);
    assert.deepEqual(kinds, ['ConfigMap', 'Deployment', 'Service', 'Ingress', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']);
  });

  it('compose writes compose.yml; a file kirin did not write is kept unless --force', async () => {
    const dir = await productionExample();
    writeFiles(dir, { 'deploy/Dockerfile': 'FROM scratch\n' });
    const refused = await kirin(['export', 'compose'], dir);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /Dockerfile exists and was not written by kirin export/);
    assert.equal(readFileSync(join(dir, 'deploy', 'Dockerfile'), 'utf8'), 'FROM scratch\n');
    assert.equal((await kirin(['export', 'compose', '--force'], dir)).code, 0);
    assert.match(readFileSync(join(dir, 'deploy', 'compose.yml'), 'utf8'), /kirin-state:\/var\/lib\/kirin/);
  });

  it('a loopback-only config: compose publishes on 127.0.0.1 and says so; a loopback upstream is a warning; an edited Dockerfile is kept unless --force', async () => {
    const dir = tempDir('ke-export-');
    writeFiles(dir, {
      'package.json': JSON.stringify({ name: 'shop', dependencies: { kirin: '^0.1.0' } }),
      'package-lock.json': '{}',
      'app.ts': 'export default { fetch: () => new Response("ok") };\n',
      'kirin.config.json': JSON.stringify({ listen: { http: ['127.0.0.1:8400'] }, sites: { '*': { '/api/': { proxy: 'http://127.0.0.1:9001' }, '/': { app: './app.ts' } } } }),
    });
    const run = await kirin(['export', 'compose'], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stderr,
      [
        'warning: sites["*"]["/api/"].proxy.to[0] is http://127.0.0.1:9001: inside the container, 127.0.0.1 is the container itself and nothing listens there; point it at the upstream\'s container (compose: its service name, e.g. http://api:9001), at this machine (http://host.docker.internal:9001 with extra_hosts: ["host.docker.internal:host-gateway"]), or run it as one of Kirin\'s services',
        "note: the config listens on 127.0.0.1:8400, loopback only: inside the container Kirin listens on :8400, and the port is published on the host's 127.0.0.1 only (-p 127.0.0.1:8400:8400), so only this machine reaches it, as with the config; to take traffic from other machines, listen on every address in the config (':8400')",
        '',
      ].join('\n'),
    );
    assert.match(readFileSync(join(dir, 'deploy', 'compose.yml'), 'utf8'), /^ {4}ports:\n {6}- "127\.0\.0\.1:8400:8400"$/m);
    const dockerfile = join(dir, 'deploy', 'Dockerfile');
    const edited = `${readFileSync(dockerfile, 'utf8')}RUN echo tuned by hand\n`;
    writeFileSync(dockerfile, edited);
    const again = await kirin(['export', 'docker'], dir);
    assert.equal(again.code, 2);
    assert.equal(again.stderr, `kirin: ${dockerfile} was edited since kirin export wrote it\nnothing was written: keep your version (move it away, export, and merge by hand) or add --force to replace it\n`);
    assert.equal(readFileSync(dockerfile, 'utf8'), edited);
    assert.equal((await kirin(['export', 'docker', '--force'], dir)).code, 0);
    assert.doesNotMatch(readFileSync(dockerfile, 'utf8'), /tuned by hand/);
  });

  it('an unknown target is a usage error', async () => {
    const run = await kirin(['export', 'helm'], ROOT);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown target "helm"; expected one of docker, compose, k8s/);
  });
});
