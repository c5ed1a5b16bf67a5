/**
 * Test support: start a real Kirin (the built dist/, as a user runs it), wait
 * for it to be ready by reading its log, talk to it over loopback, stop it.
 * Waiting is always on a signal or a poll with a deadline — never a bare sleep.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { forEachLine } from '../../src/util/lines.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KIRIN_BIN = join(ROOT, 'dist', 'cli', 'bin.js');

export interface LogLine {
  level?: string;
  msg?: string;
  pid?: number;
  role?: string;
  type?: string;
  [key: string]: unknown;
}

export interface KirinProcess {
  child: ChildProcess;
  pid: number;
  /** The first listener's URL, e.g. http://127.0.0.1:43123. */
  url: string;
  /** Every listener's URL from the ready line. */
  urls: string[];
  stateDir: string;
  /** Every line printed so far (stdout and stderr), parsed when JSON. */
  lines: LogLine[];
  /** Raw text of stdout and stderr. */
  output(): string;
  /** Resolves with the first line (already seen or future) that matches. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Sends a signal to the master. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the exit code (or signal) once the master exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then wait for exit (SIGKILL after the deadline). */
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Arguments after `kirin`, e.g. ['serve', 'app.ts', '--workers', '1']. */
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra descriptors for the child (socket activation tests): stdio[3...]. */
  extraFds?: number[];
  /** Wait for the ready line (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
  /** Run through this shell command instead of node directly (e.g. to set LISTEN_PID=$$). */
  shellPrefix?: string;
  /** The Node binary (default: the one running the tests, Node 24). */
  node?: string;
  /** A command that runs Kirin, e.g. ['ip', 'netns', 'exec', 'krv1a2b'] (it must exec, so the child's pid is Kirin's). */
  prefix?: string[];
}

const running = new Set<KirinProcess>();

function killLeftovers(): void {
  for (const k of running) k.child.kill('SIGKILL');
}
process.on('exit', killLeftovers);
// A test that fails between startKirin and its stop leaves a Kirin child that keeps the test
// file's event loop alive, so 'exit' never comes and the whole run would hang: after the file's
// last test, whatever is still running is killed. Only in a test file's own process: benches and
// helper scripts the tests start import this too, and a hook would make them print a test report.
if (process.env.NODE_TEST_CONTEXT !== undefined && /\.test\.ts$/.test(process.argv[1] ?? '')) after(killLeftovers);

/** Starts `kirin …` with Node 24 from node_modules and waits until it says it is ready. */
export async function startKirin(options: StartOptions): Promise<KirinProcess> {
  const cwd = options.cwd ?? ROOT;
  const stateDir = stateDirFromArgs(options.args) ?? '';
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  delete env.NODE_TEST_CONTEXT;
  const stdio = ['ignore', 'pipe', 'pipe', ...(options.extraFds ?? [])] as ('ignore' | 'pipe' | number)[];
  const node = options.node ?? process.execPath;
  const child = options.shellPrefix
    ? spawn('/bin/sh', ['-c', `${options.shellPrefix} exec "$0" "$@"`, node, KIRIN_BIN, ...options.args], { cwd, env, stdio })
    : options.prefix
      ? spawn(options.prefix[0]!, [...options.prefix.slice(1), node, KIRIN_BIN, ...options.args], { cwd, env, stdio })
      : spawn(node, [KIRIN_BIN, ...options.args], { cwd, env, stdio });
  const lines: LogLine[] = [];
  let text = '';
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const onLine = (raw: string) => {
    text += `${raw}\n`;
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      line = { msg: raw };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  for (const stream of [child.stdout!, child.stderr!]) forEachLine(stream, onLine);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const kirin: KirinProcess = {
    child,
    pid: child.pid!,
    url: '',
    urls: [],
    stateDir,
    lines,
    output: () => text,
    waitForLine(match, timeoutMs = 20_000, what = 'a matching log line') {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output so far:\n${text}`)), timeoutMs);
        const waiter = {
          match,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(waiter);
        void exited.then(() => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            reject(new Error(`kirin exited while waiting for ${what}; output:\n${text}`));
          }
        });
      });
    },
    signal(signal) {
      child.kill(signal);
    },
    exited,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        running.delete(kirin);
        return;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
      running.delete(kirin);
    },
  };
  running.add(kirin);
  if (options.waitReady !== false) {
    const ready = await kirin.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('ready:'), options.timeoutMs ?? 30_000, 'the ready line');
    kirin.urls = (ready.listen as string[]) ?? [];
    kirin.url = kirin.urls[0] ?? '';
    if (!kirin.stateDir && typeof ready.control === 'string') kirin.stateDir = dirname(ready.control);
  }
  return kirin;
}

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one `kirin …` command to its end (status, check, export …) and returns its exit code and output. */
export async function runKirin(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CommandRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [KIRIN_BIN, ...args], { cwd, env: { ...process.env, NODE_ENV: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function stateDirFromArgs(args: string[]): string | undefined {
  const i = args.indexOf('--state-dir');
  return i === -1 ? undefined : args[i + 1];
}

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// A Kirin started without --state-dir keeps its state under the user's state home (~/.local/state/kirin):
// the tests' Kirins use a temporary one instead, so a test run leaves nothing in the home folder.
process.env.XDG_STATE_HOME = tempDir('kirin-state-home-');

/** A temporary folder, removed when the test process exits. */
export function tempDir(prefix = 'kirin-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Writes files (path → content) under `dir`, creating folders. */
export function writeFiles(dir: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/**
 * Writes `dir/kirin.config.json` for `kirin serve` run in `dir`: one worker on a
 * port the system picks (the ready line names it), state inside `dir`, then `config`.
 */
export function writeConfig(dir: string, config: object): void {
  writeFileSync(join(dir, 'kirin.config.json'), JSON.stringify({ workers: 1, listen: { http: ['127.0.0.1:0'] }, stateDir: join(dir, 'state'), ...config }));
}

/** Makes `import … from 'kirin'` work in a temporary project folder. */
export function linkKirin(dir: string): void {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'kirin'), 'dir');
}

/** A TCP port free right now on 127.0.0.1 (prefer --bind 127.0.0.1:0 and the ready line's URL). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? 'a condition'}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** The port of an http://host:port URL. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}
