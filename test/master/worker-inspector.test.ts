/**
 * The watchdog's way into a hung worker, against real Node processes started
 * with a worker's inspector flags: SIGUSR1 opens the inspector even in a main
 * thread stuck in a loop, the report names the stack and the requests in
 * flight, the inspector closes once the process is free again, one opened by
 * a stray SIGUSR1 is closed with a warning, and its secret URL never leaves
 * the stderr filter.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { INSPECTABLE_WORKER_FLAGS, type StallReport } from '../../src/ipc.ts';
import { InspectorConnection } from '../../src/master/inspector-connection.ts';
import { WorkerInspector } from '../../src/master/worker-inspector.ts';
import { passWorkerStderr, SharedOutput } from '../../src/master/worker-stderr.ts';
import { createLogger } from '../../src/observe/log.ts';
import { request } from '../support/http.ts';
import { tempDir, waitFor } from '../support/kirin.ts';
import { isAlive, listeningPorts } from '../support/process.ts';

/**
 * Blocks its main thread in renderReport(), called from an I/O callback as a
 * request handler is, until the first file named in argv exists; then again
 * for the next one, … After each hang it watches its inspector: "settled
 * closed N" once it has been closed for a few event-loop turns. The next hang
 * starts then, or 10 ms after the last with REHANG=soon.
 */
const BLOCKING_PROCESS = `
import { existsSync, stat } from 'node:fs';
import inspector from 'node:inspector';
globalThis[Symbol.for('kirin.inflight')] = () => ['GET example.test/report (running now)'];
setInterval(() => {}, 1000);
const flags = process.argv.slice(2);
function renderReport(i) {
  console.log('blocking ' + i);
  while (!existsSync(flags[i])) {}
  console.log('free ' + i);
  const next = () => stat('.', () => renderReport(i + 1));
  if (i + 1 < flags.length && process.env.REHANG === 'soon') setTimeout(next, 10);
  else watchInspector(() => console.log('settled closed ' + i), i + 1 < flags.length ? next : () => {});
}
function watchInspector(settled, then) {
  let closedFor = 0;
  const watch = setInterval(() => {
    closedFor = inspector.url() === undefined ? closedFor + 1 : 0;
    if (closedFor === 5) {
      clearInterval(watch);
      settled();
      then();
    }
  }, 20);
}
stat('.', () => renderReport(0));
`;

interface Watched {
  child: ChildProcess;
  inspector: WorkerInspector;
  /** Ends hang number `i`. */
  release: (i: number) => void;
  /** Every URL the stderr filter took out. */
  urls: string[];
  /** What the filter passed on. */
  passed: () => string;
  warnings: () => string[];
  stdoutHas: (text: string) => boolean;
}

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** `signalDelayMs`: how long the worker takes to see the watchdog's SIGUSR1 (a loaded machine). */
function startWatched(hangs: number, rehang: 'soon' | 'after-close' = 'after-close', signalDelayMs = 0): Watched {
  const dir = tempDir('kirin-inspector-');
  const script = join(dir, 'blocking.mjs');
  const flags = Array.from({ length: hangs }, (_, i) => join(dir, `free-${i}`));
  writeFileSync(script, BLOCKING_PROCESS);
  const child = spawn(process.execPath, [...INSPECTABLE_WORKER_FLAGS, script, ...flags], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REHANG: rehang } });
  children.push(child);
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({ level: 'debug', role: 'master', pretty: false, destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  const inspector = new WorkerInspector(() => (signalDelayMs > 0 ? setTimeout(() => child.kill('SIGUSR1'), signalDelayMs) : child.kill('SIGUSR1')), logger);
  const urls: string[] = [];
  let passed = '';
  passWorkerStderr(child.stderr!, (chunk) => (passed += chunk.toString()), (url) => {
    urls.push(url);
    inspector.announced(url);
  });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return {
    child,
    inspector,
    release: (i) => writeFileSync(flags[i]!, ''),
    urls,
    passed: () => passed,
    warnings: () => lines.filter((l) => l.level === 'warn').map((l) => l.msg),
    stdoutHas: (text) => stdout.includes(text),
  };
}

const portOf = (url: string) => Number(new URL(url).port);

describe('the watchdog inspecting a worker from outside', () => {
  it('names the stack and the requests of a main thread stuck in a loop; once the process is free, its inspector closes for good', async () => {
    const w = startWatched(1);
    await waitFor(() => w.stdoutHas('blocking 0'), { what: 'the process to block' });
    const report = await w.inspector.report(9_000);
    assert.equal(report.blockedMs, 9_000);
    assertNamesTheHang(report);
    assert.equal(w.urls.length, 1);
    const port = portOf(w.urls[0]!);
    assert.match(w.urls[0]!, /^ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(listeningPorts(w.child.pid!).includes(port), 'the inspector is open while the process is blocked');
    w.release(0);
    await waitFor(() => w.stdoutHas('settled closed 0'), { what: 'the inspector to close' });
    assert.deepEqual(listeningPorts(w.child.pid!), []);
    assert.equal(w.urls.length, 1, 'the start SIGUSR1 queued on the event loop did not open it again');
    assert.deepEqual(w.warnings(), [], 'an inspector the watchdog asked for is no surprise');
    assert.doesNotMatch(w.passed(), /ws:\/\/|Debugger/, 'nothing of the inspector reaches the log');
  });

  it('opens an inspector whose URL nothing but the stderr pipe tells: /json/list answers 404, another UUID is refused', async () => {
    const w = startWatched(1);
    await waitFor(() => w.stdoutHas('blocking 0'), { what: 'the process to block' });
    assertNamesTheHang(await w.inspector.report(1));
    const port = portOf(w.urls[0]!);
    for (const path of ['/json/list', '/json']) assert.equal((await request(`http://127.0.0.1:${port}${path}`)).status, 404, path);
    const guessed = `ws://127.0.0.1:${port}/${randomUUID()}`;
    await assert.rejects(InspectorConnection.open(guessed, 2_000), /refused the WebSocket: HTTP\/1\.[01] 400/);
    w.release(0);
    await waitFor(() => w.stdoutHas('settled closed 0'), { what: 'the inspector to close' });
  });

  it('closes, with a warning, an inspector a stray SIGUSR1 opened in a healthy worker, which lives on', async () => {
    const w = startWatched(1);
    w.release(0);
    await waitFor(() => w.stdoutHas('settled closed 0'), { what: 'the process to be free' });
    w.child.kill('SIGUSR1');
    await waitFor(() => w.warnings().length === 1, { what: 'the warning' });
    assert.match(w.warnings()[0]!, /opened Node's inspector without the watchdog asking/);
    await waitFor(() => !listeningPorts(w.child.pid!).includes(portOf(w.urls[0]!)), { what: 'the inspector to close' });
    assert.ok(isAlive(w.child.pid!), 'SIGUSR1 does not kill a worker');
    assert.doesNotMatch(w.passed(), /ws:\/\//);
  });

  it('closes, without a warning, an inspector that opened after the watchdog stopped waiting for it', async () => {
    const w = startWatched(1, 'after-close', 3_500);
    await waitFor(() => w.stdoutHas('blocking 0'), { what: 'the process to block' });
    const report = await w.inspector.report(1);
    assert.deepEqual(report.stack, [], 'the probe gave up before the inspector opened');
    await waitFor(() => w.urls.length === 1, { what: 'the late URL' });
    w.release(0);
    await waitFor(() => w.stdoutHas('settled closed 0'), { what: 'the inspector to close' });
    assert.deepEqual(w.warnings(), [], "the watchdog's own late inspector is no stranger's");
  });

  it('inspects the next hang too: the inspector, closed after the first, opens anew with a new URL', async () => {
    const w = await inspectTwoHangs('after-close');
    assert.equal(w.urls.length, 2);
    assert.notEqual(w.urls[0], w.urls[1]);
  });

  it('inspects a hang that follows the last at once, through the inspector still open, which then closes', async () => {
    const w = await inspectTwoHangs('soon');
    assert.equal(w.urls.length, 1);
  });
});

/** Two hangs, each inspected and named; the inspector closes after the second and no warning was logged. */
async function inspectTwoHangs(rehang: 'soon' | 'after-close'): Promise<Watched> {
  const w = startWatched(2, rehang);
  for (const i of [0, 1]) {
    await waitFor(() => w.stdoutHas(`blocking ${i}`), { what: `hang ${i}` });
    assertNamesTheHang(await w.inspector.report(i + 1));
    w.release(i);
  }
  await waitFor(() => w.stdoutHas('settled closed 1'), { what: 'the inspector to close' });
  assert.deepEqual(w.warnings(), []);
  return w;
}

function assertNamesTheHang(report: StallReport): void {
  assert.deepEqual(report.requests, ['GET example.test/report (running now)']);
  // Above it may be a Node built-in the loop was in (existsSync), as in any stack of a running program.
  const firstOfTheApp = report.stack.find((frame) => !frame.includes('node:'));
  assert.match(firstOfTheApp ?? '', /^renderReport \(.*\/blocking\.mjs:\d+:\d+\)$/, `stack: ${JSON.stringify(report.stack)}`);
  assert.ok(report.stack.some((frame) => frame.startsWith('FSReqCallback.oncomplete (node:fs:')), 'the frames below the app are there too');
}

describe('the inspector connection', () => {
  async function server(onConnection: (socket: Socket) => void): Promise<string> {
    const listening = createServer(onConnection);
    servers.push(listening);
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    return `ws://127.0.0.1:${(listening.address() as AddressInfo).port}/0f6b1c1e-2b0a-4c51-9d3e-5a9b3c2d1e0f`;
  }
  const servers: Server[] = [];
  after(() => {
    for (const listening of servers) listening.close();
  });

  it('gives up on a port that accepts and never answers (another service took it), within its timeout', async () => {
    const url = await server(() => {});
    await assert.rejects(InspectorConnection.open(url, 200), /no WebSocket handshake from 127\.0\.0\.1:\d+ within 200 ms/);
  });

  it('refuses an answer that is not the WebSocket handshake it asked for', async () => {
    const url = await server((socket) => socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'));
    await assert.rejects(InspectorConnection.open(url, 2_000), /the inspector refused the WebSocket: HTTP\/1\.1 404 Not Found/);
  });
});

describe("a watched worker's stderr", () => {
  function filter() {
    const input = new PassThrough();
    const out: Buffer[] = [];
    const urls: string[] = [];
    passWorkerStderr(input, (chunk) => out.push(chunk), (url) => urls.push(url));
    return { input, urls, text: () => Buffer.concat(out).toString('utf8'), bytes: () => Buffer.concat(out) };
  }

  it("passes the app's bytes on as they come and takes out the inspector's lines, even split across chunks", () => {
    const f = filter();
    const url = 'ws://127.0.0.1:40000/0f6b1c1e-2b0a-4c51-9d3e-5a9b3c2d1e0f';
    f.input.write('{"level":"info","msg":"héllo"}\nDebugger list');
    assert.equal(f.text(), '{"level":"info","msg":"héllo"}\n', 'a line that may become the inspector\'s is held');
    f.input.write(`ening on ${url}\nFor help, see: https://nodejs.org/learn/getting-started/debugging\nDebugger attached.\nprogress 50%`);
    assert.deepEqual(f.urls, [url]);
    assert.equal(f.text(), '{"level":"info","msg":"héllo"}\n', "a partial line of the app waits for its end");
    f.input.write(`\nDebugger ending on ${url}\nDebugger listening on ws://10.0.0.1:80/0f6b1c1e-2b0a-4c51-9d3e-5a9b3c2d1e0f\nDebugger says hi\n`);
    f.input.end();
    assert.equal(f.text(), '{"level":"info","msg":"héllo"}\nprogress 50%\nDebugger says hi\n');
    assert.deepEqual(f.urls, [url], 'a line the app forged with another host sends the master nowhere');
  });

  it("never splices one worker's partial line with another's output", () => {
    const out: Buffer[] = [];
    const a = new PassThrough();
    const b = new PassThrough();
    for (const input of [a, b]) passWorkerStderr(input, (chunk) => out.push(chunk), () => {});
    a.write('{"worker":1,"msg":"first ha');
    b.write('{"worker":2,"msg":"whole"}\n');
    a.write('lf"}\n');
    assert.equal(Buffer.concat(out).toString(), '{"worker":2,"msg":"whole"}\n{"worker":1,"msg":"first half"}\n');
  });

  it('passes a partial line on when its end does not follow (a prompt, a progress bar)', async () => {
    const f = filter();
    f.input.write('Continue? [y/N] ');
    assert.equal(f.text(), '');
    await waitFor(() => f.text() === 'Continue? [y/N] ', { what: 'the partial line to go out', intervalMs: 5 });
  });

  it('passes bytes that are not UTF-8 through unchanged', async () => {
    const f = filter();
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a, 0xc3]);
    f.input.write(binary);
    f.input.end();
    await new Promise((resolve) => f.input.once('end', resolve));
    assert.deepEqual(f.bytes(), binary);
  });

  /** A reader of Kirin's stderr that takes nothing until released, then everything. */
  function slowReader() {
    const received: Buffer[] = [];
    let held: (() => void)[] | null = [];
    const output = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, done) {
        received.push(chunk);
        if (held) held.push(done);
        else done();
      },
    });
    const release = () => {
      for (const done of held ?? []) done();
      held = null;
    };
    return { output, release, received: () => Buffer.concat(received) };
  }

  it('pauses a worker whose output Kirin\'s stderr cannot take yet, and passes every byte on once it can', async () => {
    const lines = 20_000;
    const child = spawn(process.execPath, ['-e', `for (let i = 0; i < ${lines}; i++) process.stderr.write('line ' + String(i).padStart(5, '0') + '\\n')`], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    const reader = slowReader();
    const shared = new SharedOutput(reader.output);
    passWorkerStderr(child.stderr!, (chunk) => shared.write(chunk, child.stderr!), () => {});
    await waitFor(() => reader.output.writableNeedDrain, { what: 'the slow reader to be full' });
    assert.equal(child.stderr!.isPaused(), true, "the worker's pipe is no longer read: its writes wait");
    const ended = new Promise((resolve) => child.stderr!.once('end', resolve));
    reader.release();
    await ended;
    const expected = Array.from({ length: lines }, (_, i) => `line ${String(i).padStart(5, '0')}\n`).join('');
    assert.equal(reader.received().toString(), expected);
  });

  it('drops what comes once Kirin\'s stderr has failed, and leaves no worker paused', async () => {
    const reader = slowReader();
    const shared = new SharedOutput(reader.output);
    const input = new PassThrough();
    passWorkerStderr(input, (chunk) => shared.write(chunk, input), () => {});
    input.write(`${'a'.repeat(64 * 1024)}\n`);
    assert.equal(input.isPaused(), true);
    reader.output.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await new Promise((resolve) => reader.output.once('close', resolve));
    assert.equal(input.isPaused(), false);
    input.write('after\n');
  });
});

