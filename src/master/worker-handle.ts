/**
 * One worker process as the master sees it: how it was started, what it last
 * reported, and what state it is in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { ServePlan } from '../config/plan.ts';
import { FIRST_LISTENER_FD, type ListenerFd, type MasterMessage, type RetireReason, type StallReport, type WorkerMessage } from '../ipc.ts';
import { nodeFlagsForTypeScript } from '../runtime.ts';
import { listenerKey, type OpenListener } from './listeners.ts';

export type WorkerState = 'booting' | 'ready' | 'draining' | 'exited';

export interface WorkerEvents {
  message(worker: WorkerHandle, message: WorkerMessage): void;
  stall(worker: WorkerHandle, report: StallReport): void;
  exit(worker: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void;
}

const WORKER_ENTRY = fileURLToPath(new URL(`../worker/main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export class WorkerHandle {
  readonly generation: number;
  /** 1-based position in its generation, for logs ("worker 2"). */
  readonly index: number;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt = Date.now();
  state: WorkerState = 'booting';
  readyAt = 0;
  lastHeartbeat = Date.now();
  served = 0;
  inflight = 0;
  rss = 0;
  /** Set once the worker asked to be replaced, or the master decided so. */
  retireReason: RetireReason | null = null;
  /** The worker started to take this one's place (recycling). */
  replacement: WorkerHandle | null = null;
  /** For a replacement: the worker it replaces. */
  replaces: WorkerHandle | null = null;
  drainStartedAt = 0;
  /** Why the master killed it, if it did ('watchdog', 'memory', 'stop'). */
  killedFor: string | null = null;
  lastStall: (StallReport & { at: number }) | null = null;
  bootError: Extract<WorkerMessage, { t: 'boot-error' }> | null = null;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;

  constructor(options: {
    generation: number;
    index: number;
    plan: ServePlan;
    listeners: readonly OpenListener[];
    env: NodeJS.ProcessEnv;
    maxRequests: number;
    events: WorkerEvents;
  }) {
    this.generation = options.generation;
    this.index = options.index;
    // From this generation's plan: a reload may switch PROXY on for a socket that stays open.
    const proxied = new Set([...options.plan.listen.http.map((a) => [a, false] as const), ...options.plan.listen.https.map((a) => [a, true] as const)].filter(([a]) => a.proxyProtocol).map(([a, secure]) => listenerKey(a, secure)));
    const listenerFds: ListenerFd[] = options.listeners.map((l, i) => ({ fd: FIRST_LISTENER_FD + i, secure: l.secure, spec: l.url, proxyProtocol: proxied.has(listenerKey(l.address, l.secure)) }));
    this.child = spawn(process.execPath, [...nodeFlagsForTypeScript(), WORKER_ENTRY], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe', ...options.listeners.map((l) => l.fd)],
      env: { ...options.env, KIRIN_WORKER: String(options.index), KIRIN_GENERATION: String(options.generation) },
      serialization: 'json',
    });
    this.pid = this.child.pid ?? -1;
    const events = options.events;
    this.child.on('message', (message: WorkerMessage) => events.message(this, message));
    this.child.on('exit', (code, signal) => {
      this.state = 'exited';
      this.exitCode = code;
      this.exitSignal = signal;
      events.exit(this, code, signal);
    });
    // Spawning can fail (EAGAIN, ENOMEM): then no 'exit' follows, so report one — the master counts a crash and backs off.
    this.child.on('error', () => {
      if (this.child.pid === undefined && this.state !== 'exited') {
        this.state = 'exited';
        events.exit(this, null, null);
      }
    });
    const watchdogPipe = this.child.stdio[4] as Readable | null;
    if (watchdogPipe) {
      createInterface({ input: watchdogPipe }).on('line', (line) => {
        try {
          const report = JSON.parse(line) as StallReport;
          if (report.t === 'stall') {
            this.lastStall = { ...report, at: Date.now() };
            events.stall(this, report);
          }
        } catch {
          // Not a report: ignore.
        }
      });
    }
    this.send({ t: 'init', plan: options.plan, generation: this.generation, index: this.index, listeners: listenerFds, maxRequests: options.maxRequests });
  }

  send(message: MasterMessage): void {
    if (this.child.connected) {
      try {
        this.child.send(message);
      } catch {
        // The channel closed under us: the exit event follows.
      }
    }
  }

  /** Stop accepting, finish in-flight requests, exit. */
  drain(): void {
    if (this.state === 'exited' || this.state === 'draining') return;
    this.state = 'draining';
    this.drainStartedAt = Date.now();
    this.send({ t: 'drain' });
  }

  kill(signal: NodeJS.Signals, reason: string): void {
    if (this.state === 'exited') return;
    this.killedFor ??= reason;
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  get alive(): boolean {
    return this.state !== 'exited';
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  toString(): string {
    return `worker ${this.generation}.${this.index} (pid ${this.pid})`;
  }
}
