/**
 * Starting and stopping the servers a bench compares.
 *
 * Each server runs in its own process group (detached), so stopping it also
 * reaches whatever it spawned (Kirin's workers, nginx's worker) — by the
 * group id of a process this bench started, never by name. Output is kept
 * (bounded) for error messages and for benches that wait on a log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { forEachLine } from '../../src/util/lines.ts';
import { pinned } from './pin.ts';

export interface LaunchOptions {
  /** A short name for messages: "nginx", "kirin (fetch)". */
  name: string;
  command: string;
  args: string[];
  /** Pin to this CPU (and everything the process spawns); null: not pinned. */
  cpu: number | null;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Launched {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every output line so far (stdout and stderr), the most recent 5000. */
  readonly lines: string[];
  /** The recent output, for error messages. */
  output(): string;
  /** Resolves with the first line (seen or future) that matches; rejects at the deadline or exit. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string>;
  /** Counts lines seen so far that match. */
  count(match: (line: string) => boolean): number;
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly hasExited: boolean;
  /** SIGTERM to the process, then SIGKILL to its whole group after the deadline. */
  stop(timeoutMs?: number): Promise<void>;
}

const MAX_LINES = 5000;
const running = new Set<Launched>();

// A bench that throws half way must not leave servers behind on the pinned CPU.
process.on('exit', () => {
  for (const launched of running) killGroup(launched.pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => process.exit(130));
}

export function launch(options: LaunchOptions): Launched {
  const { command, args } = pinned(options.cpu, options.command, options.args);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
  const pid = child.pid;
  const lines: string[] = [];
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  let exitedNow = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exitedNow = true;
      running.delete(launched);
      resolve({ code, signal });
    });
  });
  child.on('error', () => {});
  for (const stream of [child.stdout!, child.stderr!]) {
    forEachLine(stream, (line) => {
      lines.push(line);
      if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
      for (const waiter of waiters) if (waiter.match(line)) waiter.resolve(line);
    });
  }
  const launched: Launched = {
    name: options.name,
    pid,
    child,
    lines,
    output: () => lines.slice(-40).join('\n'),
    waitForLine(match, timeoutMs, what) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${options.name}: timed out after ${timeoutMs} ms waiting for ${what}; output:\n${launched.output()}`)), timeoutMs);
        const waiter = { match, resolve: (line: string) => finish(null, line) };
        function finish(error: Error | null, line?: string): void {
          clearTimeout(timer);
          waiters.delete(waiter);
          if (error) reject(error);
          else resolve(line!);
        }
        waiters.add(waiter);
        void exited.then(({ code, signal }) => finish(new Error(`${options.name} exited (${signal ?? `code ${code}`}) while waiting for ${what}; output:\n${launched.output()}`)));
      });
    },
    count: (match) => lines.filter(match).length,
    signal(signal) {
      if (!exitedNow) child.kill(signal);
    },
    exited,
    get hasExited() {
      return exitedNow;
    },
    async stop(timeoutMs = 10_000) {
      if (!exitedNow) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      // Children that outlived their parent (a worker mid-drain) go with the group.
      killGroup(pid, 'SIGKILL');
    },
  };
  running.add(launched);
  return launched;
}

/** Signals the process group this bench created for `pid` (ESRCH when it is already gone). */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Nothing left in the group.
  }
}
