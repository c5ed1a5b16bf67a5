/**
 * One worker as the master sees it: what it last reported and what state it
 * is in. The process itself comes from a spawner — a Node child process in
 * production, a fake the test drives in the master's unit tests — so the
 * supervisor's logic never depends on how a worker is started.
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ServePlan } from '../config/plan.ts';
import { FIRST_LISTENER_FD, INSPECTABLE_WORKER_FLAGS, type ListenerFd, type MasterMessage, type RetireReason, type StallReport, type WorkerMessage } from '../ipc.ts';
import type { Logger } from '../observe/log.ts';
import { nodeFlagsForTypeScript } from '../runtime.ts';
import type { Clock } from './clock.ts';
import type { WorkerFacts } from './events.ts';
import type { ChildProcesses } from './group-guard.ts';
import { listenerKey, type OpenListener } from './listeners.ts';
import { WorkerInspector } from './worker-inspector.ts';
import { passWorkerStderr, SharedOutput } from './worker-stderr.ts';

export type WorkerState = 'booting' | 'ready' | 'draining' | 'exited';

/** The operating-system side of a worker. */
export interface WorkerChild {
  readonly pid: number;
  /** Sends over the IPC channel, with a connection's handle when given; a closed channel drops the message (the exit follows). */
  send(message: MasterMessage, handle?: Socket): void;
  /** Sends a signal; a process already gone is ignored. */
  kill(signal: NodeJS.Signals): void;
  /** Asks a worker that stopped reporting what blocks it; the answer comes as `stall` (src/master/worker-inspector.ts). */
  reportStall(blockedMs: number): void;
}

/** What a worker child reports; the spawner calls these. */
export interface WorkerChildEvents {
  /** `handle`: a connection passed along with the message (sticky routing). */
  message(message: WorkerMessage, handle?: Socket): void;
  stall(report: StallReport): void;
  /** Once, when the process is gone (code and signal null when it could not be started at all). */
  exit(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface SpawnRequest {
  generation: number;
  index: number;
  listeners: readonly OpenListener[];
  env: NodeJS.ProcessEnv;
  /** The watchdog is on (`timeout` > 0): the worker is started so that it can be inspected when it hangs. */
  watchdog: boolean;
}

/** Starts a worker. The master sends it `init` (the plan, its listeners) right after. */
export type WorkerSpawner = (request: SpawnRequest, events: WorkerChildEvents) => WorkerChild;

/** What the master hears from a handle. */
export interface WorkerEvents {
  message(worker: WorkerHandle, message: WorkerMessage, handle?: Socket): void;
  stall(worker: WorkerHandle, report: StallReport): void;
  exit(worker: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void;
}

const WORKER_ENTRY = fileURLToPath(new URL(`../worker/main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

/**
 * The folder Kirin was started in, as the shell named it (Gunicorn's START_CTX
 * cwd): through a `current` symlink when it was started there, so a worker
 * spawned after a deploy switched the link runs in the new release, not in the
 * one the master happened to resolve at start.
 */
export function startFolder(pwd = process.env.PWD, cwd = process.cwd()): string {
  try {
    if (pwd && realpathSync(pwd) === realpathSync(cwd)) return pwd;
  } catch {
    // PWD names a folder that is gone: fall back to the real one.
  }
  return cwd;
}

const START_FOLDER = startFolder();

/** Where watched workers' stderr goes (made with the first one). */
let masterStderr: SharedOutput | null = null;

/**
 * The production spawner: `node worker/main.js` with the IPC channel and the
 * listening sockets. Each process is listed with the guard, which kills it
 * should the master die without stopping it. With the watchdog on, the worker
 * can be inspected when it hangs (INSPECTABLE_WORKER_FLAGS) and its stderr
 * comes through the master, which keeps the inspector's URL out of the logs.
 */
export const processSpawner = (guard: ChildProcesses, logger: Logger): WorkerSpawner => (request, events) => {
  const child = spawn(process.execPath, [...nodeFlagsForTypeScript(), ...(request.watchdog ? INSPECTABLE_WORKER_FLAGS : []), WORKER_ENTRY], {
    stdio: ['ignore', 'inherit', request.watchdog ? 'pipe' : 'inherit', 'ipc', ...request.listeners.map((l) => l.fd)],
    cwd: START_FOLDER,
    env: {
      ...request.env,
      KIRIN_WORKER: String(request.index),
      KIRIN_GENERATION: String(request.generation),
      // The worker's logs are for people when Kirin's stderr is a terminal, though its own is a pipe.
      ...(request.watchdog ? { KIRIN_STDERR_TTY: process.stderr.isTTY ? '1' : '0' } : {}),
    },
    serialization: 'json',
  });
  let exited = false;
  const pid = child.pid;
  if (pid !== undefined) guard.addProcess(pid);
  child.on('message', (message: WorkerMessage, handle?: Socket) => events.message(message, handle));
  child.on('exit', (code, signal) => {
    exited = true;
    if (pid !== undefined) guard.removeProcess(pid);
    events.exit(code, signal);
  });
  // Spawning can fail (EAGAIN, ENOMEM): then no 'exit' follows, so report one — the master counts a crash and backs off.
  child.on('error', () => {
    if (child.pid === undefined && !exited) {
      exited = true;
      events.exit(null, null);
    }
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  let inspector: WorkerInspector | null = null;
  if (child.stderr) {
    const found = new WorkerInspector(() => kill('SIGUSR1'), logger.child({ pid, generation: request.generation, worker: request.index }));
    const stderr = child.stderr;
    masterStderr ??= new SharedOutput(process.stderr);
    passWorkerStderr(stderr, (chunk) => masterStderr!.write(chunk, stderr), (url) => found.announced(url));
    inspector = found;
  }
  return {
    pid: child.pid ?? -1,
    send(message, handle) {
      if (!child.connected) return;
      try {
        child.send(message, handle);
      } catch {
        // The channel closed under us: the exit event follows.
      }
    },
    kill,
    reportStall(blockedMs) {
      void inspector?.report(blockedMs).then((report) => {
        if (!exited) events.stall(report);
      });
    },
  };
};

export class WorkerHandle implements WorkerFacts {
  readonly generation: number;
  /** 1-based position in its generation, for logs ("worker 2"). */
  readonly index: number;
  readonly pid: number;
  readonly startedAt: number;
  state: WorkerState = 'booting';
  lastHeartbeat: number;
  served = 0;
  inflight = 0;
  websockets = 0;
  rss = 0;
  /** Set once the worker asked to be replaced, or the master decided so. */
  retireReason: RetireReason | null = null;
  /** The worker started to take this one's place (recycling). */
  replacement: WorkerHandle | null = null;
  /** For a replacement: the worker it replaces. */
  replaces: WorkerHandle | null = null;
  drainStartedAt = 0;
  /** Why the master killed it, if it did ('watchdog', 'boot-timeout', 'stop' …). */
  killedFor: string | null = null;
  lastStall: (StallReport & { at: number }) | null = null;
  bootError: Extract<WorkerMessage, { t: 'boot-error' }> | null = null;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  /** Resolves once the process is gone. */
  readonly exited: Promise<void>;
  readonly #child: WorkerChild;
  readonly #clock: Clock;
  /** When the master last asked this worker what blocks it (suspectHung). */
  #suspectedAt = -1;

  constructor(options: {
    generation: number;
    index: number;
    plan: ServePlan;
    listeners: readonly OpenListener[];
    env: NodeJS.ProcessEnv;
    maxRequests: number;
    events: WorkerEvents;
    spawn: WorkerSpawner;
    clock: Clock;
  }) {
    this.generation = options.generation;
    this.index = options.index;
    this.#clock = options.clock;
    this.startedAt = this.lastHeartbeat = options.clock.now();
    const events = options.events;
    let markExited!: () => void;
    this.exited = new Promise((resolve) => (markExited = resolve));
    this.#child = options.spawn(
      { generation: this.generation, index: this.index, listeners: options.listeners, env: options.env, watchdog: options.plan.timeoutMs > 0 },
      {
        message: (message, handle) => events.message(this, message, handle),
        stall: (report) => {
          this.lastStall = { ...report, at: this.#clock.now() };
          events.stall(this, report);
        },
        exit: (code, signal) => {
          if (this.state === 'exited') return;
          this.state = 'exited';
          this.exitCode = code;
          this.exitSignal = signal;
          markExited();
          events.exit(this, code, signal);
        },
      },
    );
    this.pid = this.#child.pid;
    // From this generation's plan: a reload may switch PROXY on for a socket that stays open.
    const proxied = new Set([...options.plan.listen.http.map((a) => [a, false] as const), ...options.plan.listen.https.map((a) => [a, true] as const)].filter(([a]) => a.proxyProtocol).map(([a, secure]) => listenerKey(a, secure)));
    const listenerFds: ListenerFd[] = options.listeners.map((l, i) => ({ fd: FIRST_LISTENER_FD + i, secure: l.secure, spec: l.url, proxyProtocol: proxied.has(listenerKey(l.address, l.secure)) }));
    this.send({ t: 'init', plan: options.plan, generation: this.generation, index: this.index, listeners: listenerFds, maxRequests: options.maxRequests });
  }

  send(message: MasterMessage, handle?: Socket): void {
    if (this.state !== 'exited') this.#child.send(message, handle);
  }

  /** Stop accepting, finish in-flight requests, exit. */
  drain(): void {
    if (this.state === 'exited' || this.state === 'draining') return;
    this.state = 'draining';
    this.drainStartedAt = this.#clock.now();
    this.send({ t: 'drain' });
  }

  /**
   * A worker silent this long is suspected hung: ask it what blocks it, once per
   * silence (the report comes back through `stall`).
   */
  suspectHung(silentMs: number): void {
    if (this.#suspectedAt > this.lastHeartbeat) return;
    this.#suspectedAt = this.#clock.now();
    this.#child.reportStall(silentMs);
  }

  kill(signal: NodeJS.Signals, reason: string): void {
    if (this.state === 'exited') return;
    this.killedFor ??= reason;
    this.#child.kill(signal);
  }

  get alive(): boolean {
    return this.state !== 'exited';
  }

  get uptimeMs(): number {
    return this.#clock.now() - this.startedAt;
  }

  toString(): string {
    return `worker ${this.generation}.${this.index} (pid ${this.pid})`;
  }
}
