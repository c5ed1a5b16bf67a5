/**
 * One worker as the master sees it: what it last reported and what state it
 * is in. The process itself comes from a spawner — a Node child process in
 * production, a fake the test drives in the master's unit tests — so the
 * supervisor's logic never depends on how a worker is started.
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { ServePlan } from '../config/plan.ts';
import { FIRST_LISTENER_FD, type ListenerFd, type MasterMessage, type RetireReason, type StallReport, type WorkerMessage } from '../ipc.ts';
import { nodeFlagsForTypeScript } from '../runtime.ts';
import type { Clock } from './clock.ts';
import type { WorkerFacts } from './events.ts';
import type { ChildProcesses } from './group-guard.ts';
import { listenerKey, type OpenListener } from './listeners.ts';

export type WorkerState = 'booting' | 'ready' | 'draining' | 'exited';

/** The operating-system side of a worker. */
export interface WorkerChild {
  readonly pid: number;
  /** Sends over the IPC channel, with a connection's handle when given; a closed channel drops the message (the exit follows). */
  send(message: MasterMessage, handle?: Socket): void;
  /** Sends a signal; a process already gone is ignored. */
  kill(signal: NodeJS.Signals): void;
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

/**
 * The production spawner: `node worker/main.js` with the IPC channel, the
 * watchdog pipe and the listening sockets. Each process is listed with the
 * guard, which kills it should the master die without stopping it.
 */
export const processSpawner = (guard: ChildProcesses): WorkerSpawner => (request, events) => {
  const child = spawn(process.execPath, [...nodeFlagsForTypeScript(), WORKER_ENTRY], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe', ...request.listeners.map((l) => l.fd)],
    cwd: START_FOLDER,
    env: { ...request.env, KIRIN_WORKER: String(request.index), KIRIN_GENERATION: String(request.generation) },
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
  const watchdogPipe = child.stdio[4] as Readable | null;
  if (watchdogPipe) {
    createInterface({ input: watchdogPipe }).on('line', (line) => {
      try {
        const report = JSON.parse(line) as StallReport;
        if (report.t === 'stall') events.stall(report);
      } catch {
        // Not a report: ignore.
      }
    });
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
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
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
      { generation: this.generation, index: this.index, listeners: options.listeners, env: options.env },
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
