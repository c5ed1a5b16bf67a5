/**
 * What a new user gets wrong, as the built CLI answers it: each case with its
 * exact message, nothing else printed, and the exit code (2: the command line,
 * 1: the config). Nothing here starts a worker for a broken setup.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { ROOT, runKirin, startKirin, tempDir, writeFiles, type LogLine } from '../support/kirin.ts';

const APP = 'export default { fetch: () => new Response("hello from the app") };\n';

/** A project folder with app.ts; `config`, when given, becomes kirin.config.json (one worker, a free port, state inside). */
function project(config?: Record<string, unknown>): string {
  const dir = tempDir('ke-cli-');
  writeFiles(dir, { 'app.ts': APP });
  if (config) writeFiles(dir, { 'kirin.config.json': JSON.stringify({ workers: 1, listen: { http: ['127.0.0.1:0'] }, admin: false, stateDir: join(dir, 'state'), ...config }) });
  return dir;
}

describe('commands and flags', () => {
  it('a mistyped command gets "did you mean", exit 2', async () => {
    const run = await runKirin(['serv', 'app.ts'], ROOT);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'kirin: unknown command "serv" (did you mean "serve"?)\n');
    assert.equal(run.stdout, '');
  });

  it('a command nothing is close to lists the commands', async () => {
    const run = await runKirin(['frobnicate'], ROOT);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^kirin: unknown command "frobnicate"\n\nKirin .*\n\nUsage: kirin <command> \[options\]\n\nCommands:\n {2}serve /);
  });

  it('a mistyped flag gets "did you mean", for every command', async () => {
    const serve = await runKirin(['serve', 'app.ts', '--workrs', '2'], project());
    assert.equal(serve.code, 2);
    assert.equal(serve.stderr, 'kirin: unknown option --workrs (did you mean --workers?)\n');
    const status = await runKirin(['status', '--state-dri', '/tmp'], ROOT);
    assert.equal(status.stderr, 'kirin: unknown option --state-dri (did you mean --state-dir?)\n');
    const exportRun = await runKirin(['export', 'docker', '--froce'], ROOT);
    assert.equal(exportRun.stderr, 'kirin: unknown option --froce (did you mean --force?)\n');
  });
});

describe('kirin status, reload and stop', () => {
  it('with nothing running here and nothing installed, they say how to point at a Kirin: the flag and the key', async () => {
    const dir = tempDir('ke-cli-');
    const status = await runKirin(['status', '--unit-dir', join(dir, 'no-units')], dir, { XDG_STATE_HOME: join(dir, 'state-home') });
    assert.equal(status.code, 1);
    assert.match(status.stderr, /^kirin: Kirin is not running here \(no control socket at .*\/control\.sock\); start it with `kirin serve`, or give the state folder it uses: --state-dir DIR \(the stateDir of its config\)\n$/);
  });
});

describe('two Kirins, one state folder', () => {
  it('the second says so and names the key and the flag to change', async () => {
    const dir = project();
    const args = ['serve', 'app.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--admin', 'off', '--state-dir', join(dir, 'state')];
    const first = await startKirin({ cwd: dir, args });
    try {
      const second = await runKirin(args, dir);
      assert.equal(second.code, 1);
      assert.ok(
        second.stderr.includes(`kirin: another Kirin is already running with state folder ${dir}/state (its control socket answers); stop it first (kirin stop) or set another stateDir (--state-dir)\n`),
        second.stderr,
      );
    } finally {
      await first.stop();
    }
  });
});

describe('kirin serve PATH', () => {
  it('a file that does not exist is said so, with the path it looked for; exit 2', async () => {
    const dir = project();
    const run = await runKirin(['serve', 'nothere.ts'], dir);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, `kirin: cannot serve nothere.ts: no such file: ${dir}/nothere.ts\n`);
    assert.equal(run.stdout, '');
  });

  it('a near miss suggests the file that is there', async () => {
    const dir = project();
    const run = await runKirin(['serve', 'ap.ts:api'], dir);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, `kirin: cannot serve ap.ts:api: no such file: ${dir}/ap.ts; did you mean "app.ts"?\n`);
  });

  it('a folder with a kirin.config.* serves that config, and says so', async () => {
    const parent = tempDir('ke-cli-');
    const site = join(parent, 'site');
    mkdirSync(site);
    writeFiles(site, { 'app.ts': APP, 'kirin.config.json': JSON.stringify({ workers: 1, listen: { http: ['127.0.0.1:0'] }, admin: false, stateDir: join(site, 'state'), sites: { '*': { '/': { app: './app.ts' } } } }) });
    const kirin = await startKirin({ cwd: parent, args: ['serve', 'site'] });
    try {
      assert.ok(kirin.lines.some((l) => l.msg === `serving ${site}/kirin.config.json (the config in site)`), kirin.output());
      assert.equal((await request(`${kirin.url}/`)).body, 'hello from the app');
    } finally {
      await kirin.stop();
    }
  });

  it("a folder without a config serves its package.json's main, as node DIR runs it", async () => {
    const dir = tempDir('ke-cli-');
    writeFiles(dir, { 'server.ts': APP, 'package.json': JSON.stringify({ name: 'x', main: 'server.ts' }) });
    const kirin = await startKirin({ cwd: dir, args: ['serve', '.', '--workers', '1', '--bind', '127.0.0.1:0', '--admin', 'off', '--state-dir', join(dir, 'state')] });
    try {
      assert.ok(kirin.lines.some((l) => l.msg === `serving ${dir}/server.ts (package.json "main" in .)`), kirin.output());
      assert.equal((await request(`${kirin.url}/`)).body, 'hello from the app');
    } finally {
      await kirin.stop();
    }
  });

  it('a folder with neither says what it looked for; a main that is not there is named', async () => {
    const dir = tempDir('ke-cli-');
    const empty = await runKirin(['serve', '.'], dir);
    assert.equal(empty.code, 2);
    assert.equal(empty.stderr, `kirin: cannot serve .: ${dir} is a folder with no kirin.config.{ts,mts,js,mjs,json} and no package.json "main"; name the app module (kirin serve app.ts) or create a kirin.config.ts there\n`);
    writeFiles(dir, { 'package.json': JSON.stringify({ main: 'dist/index.js' }) });
    const noMain = await runKirin(['serve', dir], tempDir('ke-cli-'));
    assert.equal(noMain.stderr, `kirin: cannot serve ${dir}: its package.json "main" names dist/index.js, but no such file: ${dir}/dist/index.js\n`);
  });
});

describe('a config whose files are missing', () => {
  it('an app module that does not exist: the file and the key path, before any worker starts; exit 1', async () => {
    const dir = project({ sites: { 'example.com': { '/': { app: './server.ts' } } } });
    const run = await runKirin(['serve'], dir);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `kirin: invalid configuration (1 problem):\n  ${dir}/kirin.config.json: sites["example.com"]["/"].app: no such file: ${dir}/server.ts\n`);
    assert.equal(run.stdout, '', 'no worker was started, no Node stack printed');
  });

  it('a static root that does not exist stops serve, and kirin check reports it as K001', async () => {
    const dir = project({ sites: { 'example.com': { '/static/': { static: './public' }, '/': { app: './app.ts' } } } });
    const run = await runKirin(['serve'], dir);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `kirin: invalid configuration (1 problem):\n  ${dir}/kirin.config.json: sites["example.com"]["/static/"].static: no such folder: ${dir}/public\n`);
    const check = await runKirin(['check', '--json'], dir);
    assert.equal(check.code, 1);
    const report = JSON.parse(check.stdout) as { findings: { id: string; message: string; where: string }[] };
    assert.deepEqual(
      report.findings.map((f) => [f.id, f.message, f.where]),
      [['K001', `sites["example.com"]["/static/"].static: no such folder: ${dir}/public`, `${dir}/kirin.config.json: sites["example.com"]["/static/"].static`]],
    );
  });

  it('a reload with a missing app file is refused and the old generation keeps serving', async () => {
    const dir = project({ sites: { '*': { '/': { app: './app.ts' } } } });
    const kirin = await startKirin({ cwd: dir, args: ['serve'] });
    try {
      writeFiles(dir, { 'kirin.config.json': JSON.stringify({ workers: 1, listen: { http: ['127.0.0.1:0'] }, admin: false, stateDir: join(dir, 'state'), sites: { '*': { '/': { app: './gone.ts' } } } }) });
      const reload = await runKirin(['reload'], dir);
      assert.equal(reload.code, 1);
      assert.equal(reload.stderr, `kirin: reload failed, generation 1 keeps serving: invalid configuration (1 problem):\n  ${dir}/kirin.config.json: sites["*"]["/"].app: no such file: ${dir}/gone.ts\n`);
      assert.equal((await request(`${kirin.url}/`)).body, 'hello from the app');
    } finally {
      await kirin.stop();
    }
  });
});

describe('values from flags', () => {
  it('a bad flag value is named by the flag and the key it sets', async () => {
    const dir = project();
    const run = await runKirin(['serve', 'app.ts', '--max-body', '10zb', '--log-level', 'loud'], dir);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "kirin: invalid configuration (2 problems):\n  --max-body (limits.maxBody): expected a size in bytes (1048576) or with a unit ('512kb', '10mb', '1gb'), got \"10zb\"\n  --log-level (logLevel): expected one of 'debug', 'info', 'warn', 'error', got \"loud\"\n",
    );
  });

  // (A missing file given as `--env-file` never reaches Kirin: Node itself reads that flag
  // anywhere on its command line and stops with "node: missing.env: not found", exit 9.)
  it('an env file that cannot be read names the key and the flag that set it', async () => {
    const dir = project({ envFiles: ['missing.env'], sites: { '*': { '/': { app: './app.ts' } } } });
    const run = await runKirin(['serve'], dir);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `kirin: envFiles (--env-file): cannot read ${dir}/missing.env: no such file\n`);
  });
});

describe('an app Node runs as CommonJS', () => {
  it('stops the start naming the package.json that says "type": "commonjs" and the fix', async () => {
    const dir = tempDir('ke-cli-');
    // What `npm init -y` writes with npm 11, and an app.ts as the README's quick start has it.
    writeFiles(dir, {
      'package.json': '{\n  "name": "my-app",\n  "version": "1.0.0",\n  "main": "index.js",\n  "type": "commonjs"\n}\n',
      'app.ts': "import { STATUS_CODES } from 'node:http';\nexport default { fetch: () => new Response(STATUS_CODES[200]) };\n",
    });
    const kirin = await startKirin({ cwd: dir, args: ['serve', 'app.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--admin', 'off', '--state-dir', join(dir, 'state')], waitReady: false });
    const { code } = await kirin.exited;
    assert.equal(code, 4);
    const fatal = kirin.lines.find((line) => line.level === 'fatal');
    assert.ok(fatal, kirin.output());
    assert.match(String(fatal.msg), /app\.ts threw while loading: Cannot use import statement outside a module\n.*package\.json says "type": "commonjs" \(npm init writes that\), so Node runs app\.ts as CommonJS: set "type": "module" there, or name the file \.mjs \(or \.mts\)$/);
  });
});

describe('the JSON log of a fatal error', () => {
  it('has msg before the stack, so the start of the line says what happened', async () => {
    const state = tempDir('ke-cli-');
    const kirin = await startKirin({ cwd: join(ROOT, 'test/fixtures/apps'), args: ['serve', 'throws-at-import.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--admin', 'off', '--state-dir', state], waitReady: false });
    const { code } = await kirin.exited;
    assert.equal(code, 4);
    const raw = kirin.output().split('\n').find((line) => line.includes('"level":"fatal"'));
    assert.ok(raw, kirin.output());
    const fatal = JSON.parse(raw) as LogLine;
    assert.deepEqual(Object.keys(fatal).slice(0, 6), ['level', 'time', 'pid', 'role', 'msg', 'stack']);
    assert.match(String(fatal.msg), /^could not start: .*throws-at-import\.ts threw while loading: this app is broken at import/);
  });
});
