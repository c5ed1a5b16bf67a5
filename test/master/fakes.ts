/**
 * Stand-ins for what the master's unit tests cannot afford to wait for: worker
 * processes the test drives (ready, heartbeat, exit …) and a clock the test
 * moves. Everything else the master uses is real (its loop, listeners, control
 * socket, services).
 */
import type { MasterMessage, WorkerMessage } from '../../src/ipc.ts';
import type { Clock } from '../../src/master/clock.ts';
import type { SpawnRequest, WorkerChild, WorkerChildEvents, WorkerSpawner } from '../../src/master/worker-handle.ts';

/** A clock that stands still until the test moves it; due timers fire as it passes them. */
export class FakeClock implements Clock {
  #now = 1_000_000;
  #timers: { at: number; fn: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.#now + ms, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((t) => t.at <= this.#now);
    this.#timers = this.#timers.filter((t) => t.at > this.#now);
    for (const timer of due) timer.fn();
  }
}

let nextPid = 50_000;

/** One worker "process". By default it behaves like Kirin's worker: it exits when drained or signalled. */
export class FakeWorker implements WorkerChild {
  readonly pid = nextPid++;
  readonly generation: number;
  readonly index: number;
  readonly sent: MasterMessage[] = [];
  readonly signals: NodeJS.Signals[] = [];
  /** The silence at each time the master asked what blocks this worker. */
  readonly stallReportsAsked: number[] = [];
  exited = false;
  /** Set false to play a worker that ignores signals and drain (hung, or slow to stop). */
  obedient = true;
  readonly #events: WorkerChildEvents;

  constructor(request: SpawnRequest, events: WorkerChildEvents) {
    this.generation = request.generation;
    this.index = request.index;
    this.#events = events;
  }

  send(message: MasterMessage): void {
    this.sent.push(message);
    if (message.t === 'drain' && this.obedient) queueMicrotask(() => this.exit(0, null));
  }

  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal);
    if (this.obedient || signal === 'SIGKILL') queueMicrotask(() => this.exit(null, signal));
  }

  reportStall(blockedMs: number): void {
    this.stallReportsAsked.push(blockedMs);
  }

  ready(): void {
    this.#events.message({ t: 'ready' });
  }

  /** The report the master's inspector reads from a worker whose main thread is blocked (src/master/worker-inspector.ts). */
  stall(requests: string[], stack: string[]): void {
    this.#events.stall({ t: 'stall', blockedMs: 9_000, requests, stack });
  }

  heartbeat(stats: Partial<Extract<WorkerMessage, { t: 'hb' }>> = {}): void {
    this.#events.message({ t: 'hb', served: 0, inflight: 0, websockets: 0, rss: 1, ...stats });
  }

  /** What Kirin's worker does when the app cannot load: the boot error, then exit with its code. */
  failBoot(exitCode: number, message: string): void {
    this.#events.message({ t: 'boot-error', code: 'KIRIN_ERR_APP_LOAD', message, stack: `Error: ${message}\n    at app.ts:1:7`, exitCode });
    this.exit(exitCode, null);
  }

  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.#events.exit(code, signal);
  }

  get drained(): boolean {
    return this.sent.some((m) => m.t === 'drain');
  }
}

/** The spawner the master gets: every worker it starts, in order. */
export class FakeSpawner {
  readonly workers: FakeWorker[] = [];
  readonly spawn: WorkerSpawner = (request, events) => {
    const worker = new FakeWorker(request, events);
    this.workers.push(worker);
    return worker;
  };

  alive(generation?: number): FakeWorker[] {
    return this.workers.filter((w) => !w.exited && (generation === undefined || w.generation === generation));
  }
}
