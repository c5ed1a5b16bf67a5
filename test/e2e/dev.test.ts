/**
 * `kirin dev` end to end: a real master and workers from dist/, real files
 * edited the ways editors save them, requests over loopback. Each wait is on
 * Kirin's own log line for the restart (or a poll with a deadline).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Agent } from 'node:http';
import { Agent as SecureAgent, request as secureRequest } from 'node:https';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { portOf, runKirin, startKirin, waitFor, tempDir, writeConfig, writeFiles, type KirinProcess, type LogLine } from '../support/kirin.ts';

const APP = `import { existsSync, writeFileSync } from 'node:fs';
import { message } from './message.ts';
export default {
  fetch(request: Request): Response | Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === '/throw') throwOnPurpose();
    if (path === '/html') return new Response(\`<p>\${message()}</p>\`, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    if (path === '/hold') return hold();
    if (path === '/env') return new Response(\`\${process.env.GREETING} \${process.env.NODE_ENV}\`);
    return new Response(message());
  },
};
/** Answers once the test creates ./release: a request in flight across a restart. */
async function hold(): Promise<Response> {
  writeFileSync(new URL('./holding', import.meta.url), '');
  while (!existsSync(new URL('./release', import.meta.url))) await new Promise((resolve) => setTimeout(resolve, 20));
  return new Response('held by ' + message());
}
function throwOnPurpose(): never {
  throw new Error('thrown on purpose');
}
`;

const message = (text: string) => `export function message(): string {\n  return ${JSON.stringify(text)};\n}\n`;

const started: KirinProcess[] = [];
after(async () => {
  await Promise.all(started.map((k) => k.stop()));
});

async function startDev(dir: string, extra: string[] = []): Promise<KirinProcess> {
  const kirin = await startKirin({ args: ['dev', 'app.ts', '--bind', '127.0.0.1:0', '--state-dir', join(dir, 'state'), ...extra], cwd: dir });
  started.push(kirin);
  return kirin;
}

function project(files: Record<string, string> = {}): string {
  const dir = tempDir('kirin-dev-');
  writeFiles(dir, { 'app.ts': APP, 'message.ts': message('version 1'), ...files });
  return dir;
}

const isRestartDone = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('restarted in');
const isRestartStart = (l: LogLine) => typeof l.msg === 'string' && l.msg.endsWith('; restarting');

/** Runs `change`, then waits for the restart it causes to finish; returns the "… changed; restarting" line. */
async function restartAfter(kirin: KirinProcess, change: () => void): Promise<LogLine> {
  const before = kirin.lines.length;
  const isNew = (l: LogLine) => kirin.lines.indexOf(l) >= before;
  change();
  const begun = await kirin.waitForLine((l) => isNew(l) && isRestartStart(l), 10_000, 'a restart to begin');
  await kirin.waitForLine((l) => isNew(l) && isRestartDone(l), 20_000, 'the restart to finish');
  return begun;
}

/** Clients that send requests one after another, each on its agent, until stopped; an answer is good when it is a version of the app. */
function requestLoops<A>(agents: A[], send: (agent: A) => Promise<{ status: number; body: string }>) {
  const failures: string[] = [];
  let answered = 0;
  let running = true;
  const loop = async (agent: A) => {
    while (running) {
      try {
        const res = await send(agent);
        if (res.status !== 200 || !res.body.startsWith('version ')) failures.push(`${res.status} ${res.body.slice(0, 80)}`);
        else answered++;
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const loops = agents.map(loop);
  return {
    failures,
    get answered() {
      return answered;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('kirin dev: restart on save', () => {
  it('serves the new code on the next request after a .ts file the app imports is saved', async () => {
    const dir = project();
    const kirin = await startDev(dir);
    assert.equal((await request(`${kirin.url}/`)).body, 'version 1');
    const line = await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), message('version 2')));
    assert.match(String(line.msg), /message\.ts changed/);
    assert.equal((await request(`${kirin.url}/`)).body, 'version 2');
  });

  it('catches a save by rename (write a temp file, rename it over the original), as vim and JetBrains save', async () => {
    const dir = project();
    const kirin = await startDev(dir);
    await restartAfter(kirin, () => {
      writeFileSync(join(dir, 'message.ts.tmp~'), message('renamed in'));
      renameSync(join(dir, 'message.ts.tmp~'), join(dir, 'message.ts'));
    });
    assert.equal((await request(`${kirin.url}/`)).body, 'renamed in');
    // And again: the new inode is watched too (a per-file watch would have lost it).
    await restartAfter(kirin, () => {
      writeFileSync(join(dir, 'message.ts.tmp~'), message('renamed twice'));
      renameSync(join(dir, 'message.ts.tmp~'), join(dir, 'message.ts'));
    });
    assert.equal((await request(`${kirin.url}/`)).body, 'renamed twice');
  });

  it('a syntax error shows the error page at the .ts file and line, stays up, and serves again once fixed', async () => {
    const dir = project();
    const kirin = await startDev(dir);
    await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), 'export function message(): string {\n  return "half" +;\n}\n'));
    const page = await request(`${kirin.url}/`);
    assert.equal(page.status, 500);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.ok(page.body.includes(`${join(dir, 'message.ts')}:2:`), 'the page names the .ts file and line');
    assert.ok(page.body.includes('return &quot;half&quot; +;'), 'the code frame shows the failing line');
    const json = await request(`${kirin.url}/`, { headers: { accept: 'application/json', cookie: 'session=s3cret', authorization: 'Bearer t0ken' } });
    const doc = JSON.parse(json.body) as { location: { file: string; line: number; column: number }; error: { name: string }; request: { headers: Record<string, string> } };
    assert.deepEqual(doc.location, { file: join(dir, 'message.ts'), line: 2, column: 18 });
    assert.equal(doc.error.name, 'SyntaxError');
    assert.equal(doc.request.headers.cookie, '[removed]');
    assert.equal(doc.request.headers.authorization, '[removed]');
    assert.ok(!json.body.includes('s3cret') && !json.body.includes('t0ken'), 'no secret in the page');
    await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), message('fixed')));
    const fixed = await request(`${kirin.url}/`);
    assert.equal(fixed.status, 200);
    assert.equal(fixed.body, 'fixed');
  });

  it("an import that does not resolve shows the importing file's line in the code frame, and creating the file brings the app back", async () => {
    const dir = project();
    const kirin = await startDev(dir);
    await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), "import { words } from './words.ts';\nexport function message(): string {\n  return words;\n}\n"));
    const json = await request(`${kirin.url}/`, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 500);
    const doc = JSON.parse(json.body) as { error: { message: string }; location: { file: string; line: number; column: number }; codeFrame: { lines: { text: string; focus: boolean }[] } };
    assert.match(doc.error.message, /Cannot find module '.*words\.ts' imported from/);
    assert.deepEqual(doc.location, { file: join(dir, 'message.ts'), line: 1, column: 23 });
    assert.equal(doc.codeFrame.lines.find((l) => l.focus)?.text, "import { words } from './words.ts';");
    // The missing file is watched where it would be: creating it restarts the app.
    await restartAfter(kirin, () => writeFileSync(join(dir, 'words.ts'), "export const words = 'found';\n"));
    assert.equal((await request(`${kirin.url}/`)).body, 'found');
  });

  it('an app npm init\'s "type": "commonjs" makes CommonJS names the fix on the error page, and fixing package.json restarts the app', async () => {
    const dir = project({ 'package.json': '{\n  "name": "my-app",\n  "version": "1.0.0",\n  "type": "commonjs"\n}\n' });
    const kirin = await startDev(dir);
    const json = await request(`${kirin.url}/`, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 500);
    const doc = JSON.parse(json.body) as { error: { message: string }; hint: string | null };
    assert.equal(doc.error.message, 'Cannot use import statement outside a module');
    assert.equal(doc.hint, `${join(dir, 'package.json')} says "type": "commonjs" (npm init writes that), so Node runs app.ts as CommonJS: set "type": "module" there, or name the file .mjs (or .mts)`);
    assert.ok((await request(`${kirin.url}/`)).body.includes('<p class="hint">'), 'the HTML page shows it too');
    await restartAfter(kirin, () => writeFileSync(join(dir, 'package.json'), '{\n  "name": "my-app",\n  "version": "1.0.0",\n  "type": "module"\n}\n'));
    assert.equal((await request(`${kirin.url}/`)).body, 'version 1');
  });

  it('an error thrown by a request shows the error page with the stack position and the route', async () => {
    const dir = project();
    const kirin = await startDev(dir);
    const json = await request(`${kirin.url}/throw`, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 500);
    const doc = JSON.parse(json.body) as { title: string; location: { file: string; line: number }; route: string; error: { message: string } };
    assert.equal(doc.error.message, 'thrown on purpose');
    assert.deepEqual({ file: doc.location.file, line: doc.location.line }, { file: join(dir, 'app.ts'), line: 20 });
    assert.match(doc.route, /→ app app\.ts$/);
  });

  it('answers every request sent in a loop during 20 restarts: none refused, none failed', async () => {
    const dir = project();
    const kirin = await startDev(dir);
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
    const loops = requestLoops<Agent | false>([keepAlive, keepAlive, false, false], (agent) => request(`${kirin.url}/`, { agent }));
    try {
      for (let i = 2; i <= 21; i++) {
        await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), message(`version ${i}`)));
        assert.equal((await request(`${kirin.url}/`)).body, `version ${i}`);
      }
    } finally {
      await loops.stop();
      keepAlive.destroy();
    }
    assert.deepEqual(loops.failures, []);
    assert.ok(loops.answered > 20, `requests answered during the restarts: ${loops.answered}`);
    // Requests during saves make the master look for changes without events: an event that trails its change is not one.
    assert.deepEqual(kirin.lines.filter((l) => /no file event arrived/.test(String(l.msg))), []);
  });

  it('does not restart for a change inside node_modules', async () => {
    const dir = project({
      'node_modules/dep/package.json': JSON.stringify({ name: 'dep', type: 'module', exports: './index.js' }),
      'node_modules/dep/index.js': 'export const dep = "dep 1";\n',
      'app.ts': `import { dep } from 'dep';\nimport { message } from './message.ts';\nexport default { fetch: () => new Response(message() + ' ' + dep) };\n`,
    });
    const kirin = await startDev(dir);
    assert.equal((await request(`${kirin.url}/`)).body, 'version 1 dep 1');
    const line = await restartAfter(kirin, () => {
      writeFileSync(join(dir, 'node_modules/dep/index.js'), 'export const dep = "dep 2";\n');
      writeFileSync(join(dir, 'message.ts'), message('version 2'));
    });
    // Had the dependency's change counted, it would be named here, or would have restarted first.
    assert.match(String(line.msg), /^message\.ts changed; restarting$/);
    assert.equal(kirin.lines.filter(isRestartStart).length, 1);
  });

  it('applies a changed env file, and sets NODE_ENV=development', async () => {
    const dir = project({ '.env': 'GREETING=hello\n' });
    const kirin = await startDev(dir, ['--env-file', '.env']);
    assert.equal((await request(`${kirin.url}/env`)).body, 'hello development');
    await restartAfter(kirin, () => writeFileSync(join(dir, '.env'), 'GREETING=bonjour\n'));
    assert.equal((await request(`${kirin.url}/env`)).body, 'bonjour development');
  });

  it('watches by polling with --poll', async () => {
    const dir = project();
    const kirin = await startDev(dir, ['--poll']);
    await kirin.waitForLine((l) => /watching by polling/.test(String(l.msg)), 5_000, 'the polling notice');
    await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), message('polled')));
    assert.equal((await request(`${kirin.url}/`)).body, 'polled');
  });
});

describe('kirin dev: a mount whose changes raise no file event', () => {
  it('notices a save made on the other side of an overlay mount when a request comes, polls that folder from then on, and restarts', async () => {
    // A real overlay file system, as containers use: the project is its upper layer, and writing to the
    // upper layer directly is the host editing a mounted folder. Reads through the mount see the new
    // bytes; inotify on the mount hears nothing (a write through the mount would raise an event).
    const base = tempDir('kirin-dev-overlay-');
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((name) => join(base, name)) as [string, string, string, string];
    writeFiles(upper, { 'app.ts': APP, 'message.ts': message('version 1') });
    for (const dir of [lower, work, merged]) mkdirSync(dir);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    let kirin: KirinProcess | null = null;
    try {
      kirin = await startKirin({ args: ['dev', 'app.ts', '--bind', '127.0.0.1:0', '--state-dir', join(base, 'state')], cwd: merged });
      const url = kirin.url;
      assert.equal((await request(`${url}/`)).body, 'version 1');
      const line = await restartAfter(kirin, () => {
        writeFileSync(join(upper, 'message.ts'), message('version 2'));
        // Someone looks at the app: that is when the missing event is noticed.
        void request(`${url}/`);
      });
      assert.match(String(line.msg), /message\.ts changed/);
      const notice = kirin.lines.find((l) => /no file event arrived/.test(String(l.msg)));
      assert.match(String(notice?.msg), new RegExp(`watching by polling every \\d+ ms: ${join(merged, 'message.ts')} changed but no file event arrived for it: ${merged} does not report changes`));
      assert.equal((await request(`${url}/`)).body, 'version 2');
      // From now on the folder is polled: the next save on the other side restarts without any request.
      await restartAfter(kirin, () => writeFileSync(join(upper, 'message.ts'), message('version 3')));
      assert.equal((await request(`${url}/`)).body, 'version 3');
      assert.equal(kirin.lines.filter((l) => /no file event arrived/.test(String(l.msg))).length, 1, 'said once');
    } finally {
      await kirin?.stop();
      // Lazily: the workers' processes may still be leaving the folder.
      execFileSync('umount', ['-l', merged]);
    }
  });
});

describe('kirin dev: HTTPS parity', () => {
  it("serves the config's TLS sites over HTTPS from the local CA: new code after a save, no failed request on keep-alive connections during restarts, the reload script and the error page", async () => {
    const dir = project();
    writeConfig(dir, {
      stateDir: './state',
      sites: {
        'app.localhost': { tls: 'local', '/': { app: './app.ts' } },
        // A public name would get ACME in production; on loopback the local CA stands in.
        'example.com': { '/': { respond: 'a public name' } },
      },
    });
    const kirin = await startKirin({ args: ['dev', '--bind', '127.0.0.1:0', '--bind-https', '127.0.0.1:0'], cwd: dir });
    started.push(kirin);
    const httpsPort = portOf(kirin.urls.find((u) => u.startsWith('https:'))!);
    const httpPort = portOf(kirin.urls.find((u) => u.startsWith('http:'))!);
    const ca = readFileSync(join(dir, 'state', 'tls', 'local-ca', 'root.crt'));
    const get = (path: string, options: { agent?: SecureAgent | false; host?: string; accept?: string } = {}) => httpsGet(httpsPort, options.host ?? 'app.localhost', path, ca, options.agent ?? false, options.accept);

    assert.equal((await get('/')).body, 'version 1');
    assert.equal((await get('/', { host: 'example.com' })).body, 'a public name');
    assert.ok(kirin.lines.some((l) => /"example\.com" with certificates from the local CA/.test(String(l.msg))), 'the log says the local CA stands in for ACME');
    // As in production, the plain listener sends a TLS site to https.
    const plain = await request(`http://127.0.0.1:${httpPort}/x`, { headers: { host: 'app.localhost' } });
    assert.equal(plain.status, 308);
    assert.equal(plain.headers.location, `https://app.localhost:${httpsPort}/x`);
    assert.match((await get('/html')).body, /^<p>version 1<\/p><script>.*new EventSource\("\/_kirin\/dev\/reload"\)/);

    const keepAlive = new SecureAgent({ keepAlive: true, maxSockets: 2, ca });
    const loops = requestLoops<SecureAgent | false>([keepAlive, keepAlive, false], (agent) => get('/', { agent }));
    try {
      for (let i = 2; i <= 6; i++) {
        await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), message(`version ${i}`)));
        assert.equal((await get('/')).body, `version ${i}`);
      }
    } finally {
      await loops.stop();
      keepAlive.destroy();
    }
    assert.deepEqual(loops.failures, []);
    assert.ok(loops.answered > 5, `requests answered during the restarts: ${loops.answered}`);

    // A keep-alive connection busy across the restart stays with the old worker; its next request is handed over over TLS.
    const holder = new SecureAgent({ keepAlive: true, maxSockets: 1, ca });
    try {
      const held = get('/hold', { agent: holder });
      await waitFor(() => existsSync(join(dir, 'holding')), { what: 'the old worker to hold the request' });
      await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), message('version 7')));
      writeFileSync(join(dir, 'release'), '');
      assert.equal((await held).body, 'held by version 6');
      const next = await get('/', { agent: holder });
      assert.equal(next.reusedSocket, true, 'the request went on the connection the old worker had');
      assert.equal(next.body, 'version 7');
    } finally {
      holder.destroy();
    }

    await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), 'export function message(): string {\n  return "half" +;\n}\n'));
    const page = await get('/');
    assert.equal(page.status, 500);
    assert.ok(page.body.includes(`${join(dir, 'message.ts')}:2:`), 'the error page names the .ts file and line');
    assert.match(page.body, /new EventSource/, 'the error page reloads by itself once fixed');
  });
});

/** One GET over TLS to 127.0.0.1 with `host` as SNI and Host, verified against the local CA's root. */
function httpsGet(port: number, host: string, path: string, ca: Buffer, agent: SecureAgent | false, accept?: string): Promise<{ status: number; body: string; reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = secureRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host, ...(accept ? { accept } : {}) }, ca, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`https://${host}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('kirin dev: the config\'s static and proxy routes', () => {
  it('serves static files (HTML with the reload script) and proxies, and restarts when a static file changes', async () => {
    const upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    const dir = project({ 'public/index.html': '<!doctype html><title>t</title><p>static one</p>\n', 'public/a.txt': 'plain' });
    writeFileSync(
      join(dir, 'kirin.config.json'),
      JSON.stringify({ stateDir: join(dir, 'state'), sites: { '*': { '/': { app: './app.ts' }, '/static/': { static: './public' }, '/api/': { proxy: `http://127.0.0.1:${port}` } } } }),
    );
    const kirin = await startKirin({ args: ['dev', '--bind', '127.0.0.1:0'], cwd: dir });
    started.push(kirin);
    try {
      const html = await request(`${kirin.url}/static/`);
      assert.equal(html.status, 200);
      assert.match(html.body, /<p>static one<\/p>/);
      assert.match(html.body, /new EventSource\("\/_kirin\/dev\/reload"\)/);
      assert.equal((await request(`${kirin.url}/static/a.txt`)).body, 'plain', 'a non-HTML file is untouched');
      assert.equal((await request(`${kirin.url}/api/x?y=1`)).body, 'upstream saw /api/x?y=1');
      assert.equal((await request(`${kirin.url}/`)).body, 'version 1');
      await restartAfter(kirin, () => writeFileSync(join(dir, 'public/index.html'), '<!doctype html><title>t</title><p>static two</p>\n'));
      assert.match((await request(`${kirin.url}/static/`)).body, /<p>static two<\/p>/);
    } finally {
      upstream.close();
    }
  });
});

describe('kirin dev: browser reload stream', () => {
  it('tells the generation, ends the stream when the worker is replaced, and the next generation tells its own', async () => {
    const dir = project();
    const kirin = await startDev(dir);
    const first = await openStream(kirin.url);
    assert.match(await first.next(), /retry: \d+\ndata: 1\n/);
    await restartAfter(kirin, () => writeFileSync(join(dir, 'message.ts'), message('version 2')));
    await first.ended;
    const second = await openStream(kirin.url);
    assert.match(await second.next(), /data: 2\n/);
    second.close();
  });

  it('is off with --no-reload-browser', async () => {
    const dir = project({ 'app.ts': `export default { fetch: () => new Response('<p>hi</p>', { headers: { 'content-type': 'text/html' } }) };\n` });
    const kirin = await startDev(dir, ['--no-reload-browser']);
    assert.equal((await request(`${kirin.url}/`)).body, '<p>hi</p>');
  });
});

async function openStream(url: string): Promise<{ next(): Promise<string>; ended: Promise<void>; close(): void }> {
  const { request: httpRequest } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/_kirin/dev/reload`, { agent: false }, (res) => {
      const chunks: string[] = [];
      let wake: (() => void) | null = null;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        chunks.push(chunk);
        wake?.();
      });
      const ended = new Promise<void>((done) => res.on('close', done));
      resolve({
        next: () => (chunks.length ? Promise.resolve(chunks.shift()!) : new Promise((r) => (wake = () => ((wake = null), r(chunks.shift()!))))),
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('kirin dev: never in production', () => {
  it('kirin check --deploy reports a Kirin running in dev mode for the config (K034); kirin serve is not reported', async () => {
    const dir = project();
    writeConfig(dir, { sites: { '*': { '/': { app: './app.ts' } } } });
    const dev = await startKirin({ args: ['dev'], cwd: dir });
    started.push(dev);
    const whileDev = await runKirin(['check', '--deploy'], dir);
    assert.match(whileDev.stdout, /K034/);
    assert.match(whileDev.stdout, new RegExp(`pid ${dev.pid}\\) is kirin dev`));
    await dev.stop();
    const serve = await startKirin({ args: ['serve'], cwd: dir });
    started.push(serve);
    const whileServe = await runKirin(['check', '--deploy'], dir);
    assert.doesNotMatch(whileServe.stdout, /K034/);
  });
});
