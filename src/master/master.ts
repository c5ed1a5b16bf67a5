/**
 * The master: supervises, never handles a request.
 *
 * Gunicorn's arbiter shape: signal handlers only queue, and so do worker exits
 * (Gunicorn's SIGCHLD → reap_workers) and the results of slow work. One loop
 * wakes up (on anything queued, or every 250 ms), handles what is queued, kills
 * hung workers, and brings the pool to the size it should have. A pass never
 * waits: evaluating the config on reload (up to 30 s), starting services and
 * booting a generation run in the background and put their result on the queue,
 * so a TERM, a hung worker or a crash during a reload is dealt with at once.
 *
 *   HUP         reload: new config and code in a new generation; swap when all of it is ready
 *   TERM        graceful stop: drain every worker, then exit 0
 *   INT, QUIT   fast stop
 *   TTIN, TTOU  one worker more / fewer (never below one)
 *   USR1        reopen log files
 *
 * An error the loop does not expect ends it (Gunicorn's "Unhandled exception in
 * main loop"): workers and services are stopped and the master exits with
 * ExitCode.INTERNAL_ERROR — never a master that lives on without its loop.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import type { ServePlan } from '../config/plan.ts';
import { ExitCode, KirinError } from '../errors.ts';
import type { Socket } from 'node:net';
import { HEARTBEAT_MS, type StallReport, type StickyConnection, type WorkerMessage } from '../ipc.ts';
import type { Logger } from '../observe/log.ts';
import { systemClock, type Clock } from './clock.ts';
import { ControlServer } from './control.ts';
import type { ExitReason, MasterEventMap, ReloadResult } from './events.ts';
import { closeListener, listenerKey, openListener, type OpenListener } from './listeners.ts';
import { Providers } from './providers.ts';
import { ServiceManager, type ServiceChange } from './services.ts';
import type { SystemdNotifier } from './systemd.ts';
import { GroupGuard } from './group-guard.ts';
import { processSpawner, WorkerHandle, type WorkerSpawner } from './worker-handle.ts';
import { removePeerSocket, removeStalePeerSockets } from '../worker/sticky/peer-socket.ts';

export type { ExitReason, ReloadResult } from './events.ts';

/** How a new plan is made on reload: re-read the config and env files. Abandoned (the signal aborts) when the master stops first. */
export type PlanLoader = (signal: AbortSignal) => Promise<{ plan: ServePlan; env: NodeJS.ProcessEnv }>;

export type MasterSignal = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGTTIN' | 'SIGTTOU' | 'SIGUSR1';

const SIGNALS: readonly MasterSignal[] = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1'];

/** A worker up this long has proven itself: its crash starts the backoff over. */
const STABLE_UPTIME_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;
const FAST_STOP_MS = 2_000;
const LOOP_MS = 250;
/**
 * `kirin dev` runs without the watchdog (a debugger pause is not a hang) and
 * nothing else in it is due by the clock: an idle development server should
 * cost nothing, so its loop looks round this seldom (events still wake it).
 */
const DEV_LOOP_MS = 2_000;
/**
 * A worker silent for most of its timeout is asked what blocks it (request, stack:
 * src/master/worker-inspector.ts) before the timeout; on a busy machine that report
 * can lag. A worker past its timeout without one gets this much longer for it, so the
 * log can name the culprit.
 */
const STALL_REPORT_GRACE_MS = 2_000;

/** How long a worker is silent before it is asked what blocks it: half the timeout, or 2 s before it when that is later. */
function suspectAfterMs(timeoutMs: number): number {
  return Math.max(timeoutMs / 2, timeoutMs - 2000) + HEARTBEAT_MS;
}
/** Signals beyond this many unhandled ones are dropped (Gunicorn keeps 5): a flood cannot grow the queue. */
const MAX_QUEUED_SIGNALS = 10;

export interface WorkerStatus {
  pid: number;
  generation: number;
  index: number;
  state: string;
  uptimeMs: number;
  rss: number;
  served: number;
  inflight: number;
  /** Open app WebSockets. */
  websockets: number;
  restarts: number;
}

export interface MasterStatus {
  pid: number;
  generation: number;
  startedAt: number;
  workers: WorkerStatus[];
  targetWorkers: number;
  listeners: string[];
  reloads: number;
  restarts: Record<ExitReason, number>;
  configFile: string | null;
  services: ReturnType<ServiceManager['status']>;
  /** Runs as `kirin dev` (K034 in `kirin check --deploy`); absent from masters that predate it. */
  dev?: boolean;
}

export interface MasterOptions {
  plan: ServePlan;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  loadPlan: PlanLoader;
  notifier: SystemdNotifier;
  /** Starts worker processes (default: Node child processes). Unit tests pass a fake they drive. */
  spawnWorker?: WorkerSpawner;
  /** Wraps the spawner (`kirin dev` keeps a spare worker started ahead: src/dev/standby.ts). */
  wrapSpawner?: (spawner: WorkerSpawner) => WorkerSpawner;
  /** Default: the system clock. */
  clock?: Clock;
  /**
   * Take the process's signals and uncaught exceptions (default true). Unit tests
   * run several masters in one process and send signals with `signal()`.
   */
  ownProcess?: boolean;
  /**
   * Test hook (KIRIN_TEST_LOOP_FAULT, read by `kirin serve`): handling this signal
   * throws inside the loop, so the end-to-end tests can prove the catch-all over
   * real processes. A bug cannot be summoned on purpose otherwise.
   */
  faultOnSignal?: MasterSignal | null;
}

type ReplyToReload = (result: ReloadResult) => void;

/** What the loop acts on; everything that happens to the master arrives here. */
type LoopEvent =
  | { kind: 'signal'; signal: MasterSignal }
  | { kind: 'reload'; reply: ReplyToReload }
  | { kind: 'exit'; worker: WorkerHandle; code: number | null; signal: NodeJS.Signals | null }
  /** Background work finished: its continuation runs inside a loop pass. */
  | { kind: 'done'; then: () => void }
  /** An exception outside the loop (an event handler, an extension's timer): the loop rethrows it and halts. */
  | { kind: 'fault'; error: unknown };

type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/** A reload in progress: load the plan → prepare services → boot the new generation → swap. */
interface ReloadAttempt {
  number: number;
  phase: 'loading' | 'services' | 'workers';
  replies: ReplyToReload[];
  /** Cancels the config evaluation and the service preparation when the attempt is abandoned. */
  readonly abandon: AbortController;
  plan: ServePlan | null;
  env: NodeJS.ProcessEnv | null;
  listeners: OpenListener[];
  services: ServiceChange | null;
  workers: WorkerHandle[];
}

export class Master extends EventEmitter<MasterEventMap> {
  readonly #logger: Logger;
  readonly #loadPlan: PlanLoader;
  readonly #notifier: SystemdNotifier;
  readonly #spawnWorker: WorkerSpawner;
  /** Kills workers and services should this process die without stopping them (SIGKILL, OOM). */
  readonly #guard: GroupGuard;
  readonly #clock: Clock;
  readonly #ownProcess: boolean;
  readonly #faultOnSignal: MasterSignal | null;
  readonly #queue: LoopEvent[] = [];
  readonly #startedAt: number;
  #plan: ServePlan;
  #env: NodeJS.ProcessEnv;
  #generation = 1;
  #target: number;
  #workers: WorkerHandle[] = [];
  #listeners = new Map<string, OpenListener>();
  #current: OpenListener[] = [];
  #reload: ReloadAttempt | null = null;
  /** Reloads asked for while one is in progress: folded into one that starts when it ends. */
  #reloadWanted: ReplyToReload[] | null = null;
  /** 'services' until the first services run, then 'workers' until generation 1 is ready. */
  #boot: 'pending' | 'services' | 'workers' | 'done' = 'pending';
  #stopping: 'graceful' | 'fast' | null = null;
  #stopDeadline = 0;
  #crashes = 0;
  #nextSpawnAt = 0;
  #reloads = 0;
  #restarts: Record<ExitReason, number> = { crash: 0, watchdog: 0, 'max-requests': 0, memory: 0, 'uncaught-exception': 0, 'boot-error': 0 };
  #wake: (() => void) | null = null;
  #control: ControlServer | null = null;
  #services: ServiceManager;
  #exitCode: number = ExitCode.OK;
  /** Settles start(): null once booted (or stopped before), the error that ended the start otherwise. */
  #settleStart: ((error: Error | null) => void) | null = null;
  #processHandlers: [string, (arg?: unknown) => void][] = [];
  /** Restarts per worker position, for `kirin status`. */
  readonly #slotRestarts = new Map<number, number>();
  /** Facts other parts publish for the admin listener, metrics and alerts. */
  readonly providers = new Providers();
  readonly #askHandlers = new Map<string, (payload: unknown, worker: WorkerHandle) => unknown>();
  /** Resolves with the exit code once the master has stopped. */
  readonly stopped: Promise<number>;

  constructor(options: MasterOptions) {
    super();
    this.#plan = options.plan;
    this.#env = options.env;
    this.#logger = options.logger;
    this.#loadPlan = options.loadPlan;
    this.#notifier = options.notifier;
    this.#guard = new GroupGuard(options.logger);
    const spawner = options.spawnWorker ?? processSpawner(this.#guard, this.#logger);
    this.#spawnWorker = options.wrapSpawner ? options.wrapSpawner(spawner) : spawner;
    this.#clock = options.clock ?? systemClock;
    this.#ownProcess = options.ownProcess ?? true;
    this.#faultOnSignal = options.faultOnSignal ?? null;
    this.#startedAt = this.#clock.now();
    this.#target = options.plan.workers;
    this.#services = new ServiceManager(options.logger, (event, ...args) => this.#tell(event, ...(args as MasterEventMap[typeof event])), undefined, this.#guard);
    this.stopped = new Promise((resolve) => this.once('stopped', resolve));
  }

  get logger(): Logger {
    return this.#logger;
  }

  get plan(): ServePlan {
    return this.#plan;
  }

  /** Answers a kind of question workers ask (rate limits, certificates …). */
  onAsk(type: string, handler: (payload: unknown, worker: WorkerHandle) => unknown): void {
    this.#askHandlers.set(type, handler);
  }

  /** Sends a message to every live worker. */
  broadcast(type: string, payload: unknown): void {
    for (const worker of this.#workers) if (worker.alive) worker.send({ t: 'push', type, payload });
  }

  /**
   * Opens the sockets and the control socket, then runs the loop, which starts
   * the services and the first generation. Resolves once every worker is ready
   * (or a stop came first); rejects, after everything is stopped again, when
   * they cannot start.
   */
  async start(): Promise<void> {
    if (this.#ownProcess) this.#takeProcess();
    const started = new Promise<Error | null>((resolve) => (this.#settleStart = resolve));
    try {
      this.#current = this.#openListeners(this.#plan);
      mkdirSync(this.#plan.stateDir, { recursive: true, mode: 0o700 });
      this.#control = new ControlServer(this, this.#logger);
      await this.#control.listen(this.#plan.stateDir);
      // The control socket answered for this state folder: peer sockets in it are a previous run's.
      removeStalePeerSockets(this.#plan.stateDir);
    } catch (error) {
      await this.#finish();
      throw error;
    }
    // Extensions start here (the admin listener: /healthz answers 503 while workers boot).
    this.#tell('starting');
    void this.#run();
    const error = await started;
    if (error) {
      await this.stopped;
      throw error;
    }
    if (this.#boot !== 'done') return;
    if (this.#plan.pidFile) writeFileSync(this.#plan.pidFile, `${process.pid}\n`);
    this.#logger.info(
      { generation: this.#generation, workers: this.#target, listen: this.#current.map((l) => l.url), control: this.#control.path },
      `ready: serving ${this.#current.map((l) => l.url).join(', ')} with ${this.#target} worker${this.#target === 1 ? '' : 's'}`,
    );
    void this.#notifier.ready(`serving with ${this.#target} workers`);
  }

  // ── signals and commands ───────────────────────────────────────────────

  /** Queues a signal as if the process had received it (what the process's handlers call). */
  signal(signal: MasterSignal): void {
    // NO LOGGING here (Gunicorn): just queue and wake the loop.
    if (this.#queue.filter((e) => e.kind === 'signal').length < MAX_QUEUED_SIGNALS) this.#enqueue({ kind: 'signal', signal });
  }

  /** Starts a reload; resolves when the new generation serves or the attempt failed. */
  reload(): Promise<ReloadResult> {
    return new Promise((reply) => this.#enqueue({ kind: 'reload', reply }));
  }

  stop(mode: 'graceful' | 'fast' = 'graceful'): void {
    this.signal(mode === 'graceful' ? 'SIGTERM' : 'SIGQUIT');
  }

  #enqueue(event: LoopEvent): void {
    this.#queue.push(event);
    this.#wake?.();
  }

  /** Signals, uncaught exceptions and rejections of this process go to the loop. */
  #takeProcess(): void {
    const on = (event: string, handler: (arg?: unknown) => void) => {
      process.on(event, handler);
      this.#processHandlers.push([event, handler]);
    };
    for (const signal of SIGNALS) on(signal, () => this.signal(signal));
    // An error outside the loop (an extension's timer, a listener) halts like one inside it: nothing lives on unsupervised.
    on('uncaughtException', (error) => this.#enqueue({ kind: 'fault', error }));
  }

  #releaseProcess(): void {
    for (const [event, handler] of this.#processHandlers) process.off(event, handler);
    this.#processHandlers = [];
  }

  #handleSignal(signal: MasterSignal): void {
    if (signal === this.#faultOnSignal) throw new Error(`fault injected on ${signal} (KIRIN_TEST_LOOP_FAULT)`);
    switch (signal) {
      case 'SIGHUP':
        this.#logger.info('SIGHUP: reloading');
        this.#wantReload(null);
        break;
      case 'SIGTERM':
        this.#beginStop('graceful');
        break;
      case 'SIGINT':
      case 'SIGQUIT':
        this.#beginStop('fast');
        break;
      case 'SIGTTIN':
        this.#target++;
        this.#logger.info({ workers: this.#target }, 'SIGTTIN: one worker more');
        break;
      case 'SIGTTOU':
        if (this.#target > 1) this.#target--;
        this.#logger.info({ workers: this.#target }, this.#target === 1 ? 'SIGTTOU: already at one worker' : 'SIGTTOU: one worker fewer');
        break;
      case 'SIGUSR1':
        this.#logger.info('SIGUSR1: reopening log files');
        for (const worker of this.#workers) worker.send({ t: 'reopen-logs' });
        break;
    }
  }

  #wantReload(reply: ReplyToReload | null): void {
    if (this.#stopping) {
      reply?.({ ok: false, generation: this.#generation, error: 'the master is stopping' });
      return;
    }
    this.#reloadWanted ??= [];
    if (reply) this.#reloadWanted.push(reply);
  }

  // ── the loop ────────────────────────────────────────────────────────────

  /** The loop, its catch-all, and the end: services stopped, sockets closed, 'stopped' told. */
  async #run(): Promise<void> {
    try {
      for (;;) {
        if (this.#pass()) break;
        if (this.#queue.length === 0) await this.#sleep(this.#nextSpawnAt - this.#clock.now());
      }
    } catch (error) {
      await this.#halt(error);
    }
    this.#settleStart?.(null);
    this.#settleStart = null;
    try {
      await this.#finish();
    } catch (error) {
      this.#logger.error({ err: error }, `stopping the services and closing the sockets failed: ${(error as Error).message}`);
    }
    this.#tell('stopped', this.#exitCode);
  }

  /** One pass: everything queued, then the checks. Synchronous: nothing here waits. True once stopped. */
  #pass(): boolean {
    for (let event = this.#queue.shift(); event; event = this.#queue.shift()) this.#dispatch(event);
    if (this.#stopping) return this.#stopStep();
    if (this.#boot === 'pending') this.#startServices();
    if (this.#reloadWanted && !this.#reload && this.#boot === 'done') this.#beginReload();
    this.#murderHungWorkers();
    this.#recycleOversized();
    this.#manageWorkers();
    if (this.#boot === 'workers') this.#checkBoot();
    this.#checkReload();
    this.#stopRetiredServices();
    return false;
  }

  #dispatch(event: LoopEvent): void {
    switch (event.kind) {
      case 'signal':
        this.#handleSignal(event.signal);
        break;
      case 'reload':
        this.#wantReload(event.reply);
        break;
      case 'exit':
        this.#reap(event.worker, event.code, event.signal);
        break;
      case 'done':
        event.then();
        break;
      case 'fault':
        throw event.error;
    }
  }

  /** Until something is queued, or LOOP_MS (less when a backoff ends sooner). */
  #sleep(untilDue: number): Promise<void> {
    const loopMs = this.#plan.dev !== null && this.#plan.timeoutMs === 0 ? DEV_LOOP_MS : LOOP_MS;
    return new Promise<void>((resolve) => {
      const wake = () => {
        cancel();
        this.#wake = null;
        resolve();
      };
      const cancel = this.#clock.setTimer(untilDue > 0 ? Math.min(loopMs, untilDue) : loopMs, wake);
      this.#wake = wake;
    });
  }

  /** Runs slow work off the loop; its continuation comes back through the queue. */
  #inBackground<T>(work: () => Promise<T>, then: (outcome: Outcome<T>) => void): void {
    let running: Promise<T>;
    try {
      // Called now, so what the work does before its first await is done within this pass.
      running = work();
    } catch (error) {
      running = Promise.reject(error);
    }
    running
      .then(
        (value): Outcome<T> => ({ ok: true, value }),
        (error: unknown): Outcome<T> => ({ ok: false, error: error instanceof Error ? error : new Error(String(error)) }),
      )
      .then((outcome) => this.#enqueue({ kind: 'done', then: () => then(outcome) }));
  }

  /** A worker whose heartbeat stopped for `timeout` is blocked: kill it (Gunicorn's "WORKER TIMEOUT"). */
  #murderHungWorkers(): void {
    const timeout = this.#plan.timeoutMs;
    const now = this.#clock.now();
    for (const worker of this.#workers) {
      const silentMs = now - worker.lastHeartbeat;
      const stall = worker.lastStall && worker.lastStall.at >= worker.lastHeartbeat ? worker.lastStall : null;
      if (worker.state === 'ready' && timeout > 0 && silentMs > suspectAfterMs(timeout)) worker.suspectHung(silentMs);
      if (worker.state === 'ready' && timeout > 0 && silentMs > timeout + HEARTBEAT_MS && (stall !== null || silentMs > timeout + HEARTBEAT_MS + STALL_REPORT_GRACE_MS)) {
        const requests = stall?.requests.length ? stall.requests.join('; ') : 'no request known (blocked outside JavaScript, or in a timer)';
        this.#logger.error(
          { pid: worker.pid, blockedMs: silentMs, requests: stall?.requests ?? [], stack: stall?.stack ?? [] },
          `WORKER TIMEOUT: ${worker} blocked its event loop for more than ${timeout / 1000} s while handling ${requests}; killing it${stall?.stack.length ? `\n    at ${stall.stack.join('\n    at ')}` : ''}`,
        );
        worker.kill('SIGKILL', 'watchdog');
      }
      if (worker.state === 'booting' && now - worker.startedAt > this.#bootTimeout()) {
        this.#logger.error(`${worker} did not become ready within ${this.#bootTimeout() / 1000} s; killing it`);
        worker.kill('SIGKILL', 'boot-timeout');
      }
      if (worker.state === 'draining' && now - worker.drainStartedAt > this.#plan.gracefulTimeoutMs + 2000) {
        this.#logger.warn(`${worker} still draining after the graceful timeout; killing it`);
        worker.kill('SIGKILL', 'drain-timeout');
      }
    }
  }

  #bootTimeout(): number {
    return Math.max(60_000, this.#plan.timeoutMs);
  }

  #recycleOversized(): void {
    const limit = this.#plan.maxMemoryBytes;
    if (limit <= 0) return;
    for (const worker of this.#workers) {
      if (worker.state === 'ready' && worker.rss > limit && worker.retireReason === null) {
        this.#logger.info({ pid: worker.pid, rss: worker.rss, limit }, `${worker} uses ${mb(worker.rss)} MB, above maxMemory ${mb(limit)} MB; replacing it`);
        worker.retireReason = 'memory';
      }
    }
  }

  /** Brings the current generation to its target size, and replaces retiring workers. */
  #manageWorkers(): void {
    if (this.#boot === 'pending' || this.#boot === 'services') return;
    const active = this.#workers.filter((w) => w.generation === this.#generation && (w.state === 'booting' || w.state === 'ready') && w.replaces === null);
    const now = this.#clock.now();
    // Retiring workers: start the replacement; drain the old one when the new one is ready.
    for (const worker of active) {
      if (worker.retireReason === null) continue;
      if (worker.replacement === null) {
        if (now < this.#nextSpawnAt) continue;
        const replacement = this.#spawn(this.#generation, worker.index, this.#plan, this.#env, this.#current);
        replacement.replaces = worker;
        worker.replacement = replacement;
      } else if (worker.replacement.state === 'ready') {
        this.#countRestart(worker.retireReason, worker.index);
        this.#logger.info({ pid: worker.pid, reason: worker.retireReason, replacement: worker.replacement.pid }, `${worker} recycled (${worker.retireReason}); ${worker.replacement} took its place`);
        worker.replacement.replaces = null;
        worker.drain();
      }
    }
    const serving = active.length;
    if (serving < this.#target && now >= this.#nextSpawnAt) {
      const used = new Set(active.map((w) => w.index));
      // At boot the whole first generation starts at once; later one worker per pass, paced by the backoff.
      for (let index = 1, missing = this.#target - serving; missing > 0; index++) {
        if (used.has(index)) continue;
        this.#spawn(this.#generation, index, this.#plan, this.#env, this.#current);
        missing = this.#boot === 'done' ? 0 : missing - 1;
      }
    } else if (serving > this.#target) {
      const extra = active.sort((a, b) => b.index - a.index).slice(0, serving - this.#target);
      for (const worker of extra) {
        this.#logger.info(`${worker} stopping: fewer workers wanted`);
        worker.drain();
      }
    }
  }

  #spawn(generation: number, index: number, plan: ServePlan, env: NodeJS.ProcessEnv, listeners: OpenListener[]): WorkerHandle {
    const maxRequests = plan.maxRequests > 0 ? plan.maxRequests + Math.floor(Math.random() * (plan.maxRequestsJitter + 1)) : 0;
    const worker = new WorkerHandle({
      generation,
      index,
      plan,
      listeners,
      env,
      maxRequests,
      spawn: this.#spawnWorker,
      clock: this.#clock,
      events: {
        message: (w, m, handle) => this.#onMessage(w, m, handle),
        stall: (w, r) => this.#onStall(w, r),
        exit: (w, code, signal) => this.#enqueue({ kind: 'exit', worker: w, code, signal }),
      },
    });
    this.#workers.push(worker);
    this.#logger.debug({ pid: worker.pid, generation, index }, `spawned ${worker}`);
    return worker;
  }

  // ── worker events ───────────────────────────────────────────────────────

  /** A worker's message: bookkeeping only (state, heartbeat); the loop acts on it in its next pass. */
  #onMessage(worker: WorkerHandle, message: WorkerMessage, handle?: Socket): void {
    switch (message.t) {
      case 'ready':
        if (worker.state === 'booting') {
          worker.state = 'ready';
          worker.lastHeartbeat = this.#clock.now();
          this.#wake?.();
        }
        break;
      case 'hb':
        worker.lastHeartbeat = this.#clock.now();
        worker.served = message.served;
        worker.inflight = message.inflight;
        worker.websockets = message.websockets ?? 0;
        worker.rss = message.rss;
        if (message.metrics) this.#tell('metrics', worker, message.metrics);
        break;
      case 'boot-error':
        worker.bootError = message;
        break;
      case 'retire':
        if (worker.retireReason === null && worker.state === 'ready') {
          worker.retireReason = message.reason;
          this.#logger.debug({ pid: worker.pid, reason: message.reason, detail: message.detail }, `${worker} asks to be replaced`);
          this.#wake?.();
        }
        break;
      case 'ask':
        void this.#answer(worker, message.id, message.type, message.payload);
        break;
      case 'event':
        this.#tell(`worker-event:${message.type}`, worker, message.payload);
        break;
      case 'sticky':
        if (handle) this.#passStickyConnection(worker, message, handle);
        break;
      case 'peers':
        for (const other of this.#workers) if (other !== worker && other.alive) other.send(message);
        break;
    }
  }

  /**
   * Sticky routing: a worker accepted a connection for a Socket.IO session of
   * another; pass it on to that one, or back when it is gone (then the session
   * is unknown wherever it lands, and the client starts a new one).
   */
  #passStickyConnection(from: WorkerHandle, message: StickyConnection, socket: Socket): void {
    // Node started reading the handle as it arrived; stop before the event loop polls, so no byte is read here.
    (socket as Socket & { _handle?: { readStop(): number } })._handle?.readStop();
    const owner = this.#workers.find((w) => w.pid === message.owner && w.alive);
    if (owner) owner.send(message, socket);
    else from.send({ ...message, orphan: true }, socket);
  }

  async #answer(worker: WorkerHandle, id: number, type: string, payload: unknown): Promise<void> {
    const handler = this.#askHandlers.get(type);
    if (!handler) {
      worker.send({ t: 'reply', id, ok: false, error: `the master does not answer "${type}"` });
      return;
    }
    try {
      worker.send({ t: 'reply', id, ok: true, value: await handler(payload, worker) });
    } catch (error) {
      worker.send({ t: 'reply', id, ok: false, error: (error as Error).message });
    }
  }

  #onStall(worker: WorkerHandle, report: StallReport): void {
    this.#logger.warn({ pid: worker.pid, blockedMs: report.blockedMs, requests: report.requests }, `${worker} has blocked its event loop for ${(report.blockedMs / 1000).toFixed(1)} s`);
  }

  /** A worker's exit, taken from the queue (Gunicorn's reap_workers). */
  #reap(worker: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    this.#workers = this.#workers.filter((w) => w !== worker);
    // A worker that died (killed, crashed) left its peer socket: other workers would try it before serving its sessions' requests themselves.
    if (this.#plan.sticky) removePeerSocket(this.#plan.stateDir, worker.pid);
    this.#tell('worker-exit', worker);
    if (worker.replaces) {
      // A replacement died before taking over: the old worker keeps serving; try again after a pause.
      worker.replaces.replacement = null;
    }
    if (worker.replacement && worker.replacement.alive) {
      // A retiring worker died before its replacement was ready: the replacement takes the slot.
      worker.replacement.replaces = null;
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const pending = this.#reload?.workers.includes(worker) === true;
    // Expected exits: stopping, drained, or killed with an abandoned reload's generation.
    if (this.#stopping || worker.drainStartedAt > 0 || (worker.generation > this.#generation && !pending)) {
      this.#logger.debug(`${worker} exited (${how})`);
      return;
    }
    if (pending) {
      const failure = this.#describeBootFailure(worker, how);
      this.#abortReload(failure.message, failure.stack);
      return;
    }
    if (this.#boot !== 'done') {
      this.#bootFailed(worker, how);
      return;
    }
    const reason: ExitReason = worker.killedFor === 'watchdog' ? 'watchdog' : worker.bootError ? 'boot-error' : 'crash';
    this.#countRestart(reason, worker.index);
    // Backoff: immediate for a first crash, then doubling; a worker that ran STABLE_UPTIME_MS resets it.
    if (worker.uptimeMs > STABLE_UPTIME_MS || reason === 'watchdog') this.#crashes = 0;
    this.#crashes++;
    const delay = this.#crashes <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.#crashes - 2));
    this.#nextSpawnAt = this.#clock.now() + delay;
    if (reason === 'watchdog') {
      this.#logger.warn(`${worker} was killed by the watchdog; starting a new one`);
    } else if (worker.bootError) {
      this.#logger.error({ stack: worker.bootError.stack }, `${worker} failed to start: ${worker.bootError.message}; retrying in ${delay} ms`);
    } else {
      const hint = signal === 'SIGKILL' ? ' Perhaps out of memory?' : '';
      this.#logger.error({ pid: worker.pid, code, signal, uptimeMs: worker.uptimeMs }, `${worker} died (${how}) after ${(worker.uptimeMs / 1000).toFixed(1)} s.${hint} Starting a new one${delay ? ` in ${delay} ms` : ''}`);
    }
    if (this.#crashes === 10) this.#tell('crash-loop', this.#crashes);
  }

  #countRestart(reason: ExitReason, index: number): void {
    this.#restarts[reason]++;
    this.#slotRestarts.set(index, (this.#slotRestarts.get(index) ?? 0) + 1);
    this.#tell('worker-restart', reason);
  }

  #describeBootFailure(worker: WorkerHandle, how: string): { message: string; stack: string | undefined } {
    if (worker.bootError) return { message: worker.bootError.message, stack: worker.bootError.stack };
    if (worker.killedFor === 'boot-timeout') return { message: `${worker} did not become ready within ${this.#bootTimeout() / 1000} s`, stack: undefined };
    return { message: `${worker} exited during start-up (${how})`, stack: undefined };
  }

  /** The first generation cannot start: halt with the worker's exit code instead of respawning forever (Gunicorn). */
  #bootFailed(worker: WorkerHandle, how: string): void {
    const { message, stack } = this.#describeBootFailure(worker, how);
    const exitCode = worker.bootError?.exitCode ?? ExitCode.WORKER_BOOT_ERROR;
    const code = exitCode === ExitCode.APP_LOAD_ERROR ? 'KIRIN_ERR_APP_LOAD' : 'KIRIN_ERR_BOOT';
    this.#failStart(new KirinError(code, message, { detail: stack, exitCode }));
  }

  /** The start failed: stop what runs, and let start() throw `error`. */
  #failStart(error: KirinError): void {
    this.#exitCode = error.exitCode ?? ExitCode.FAILURE;
    for (const other of this.#workers) other.kill('SIGKILL', 'boot-failed');
    this.#stopping = 'fast';
    this.#stopDeadline = this.#clock.now() + FAST_STOP_MS;
    this.#settleStart?.(error);
    this.#settleStart = null;
  }

  // ── boot ────────────────────────────────────────────────────────────────

  /** Services first: the first generation's proxies need their sockets and ports. */
  #startServices(): void {
    this.#boot = 'services';
    this.#inBackground(
      () => this.#services.start(this.#plan, this.#env),
      (outcome) => {
        if (this.#stopping) return;
        if (!outcome.ok) {
          // A service that cannot start (a missing program) stops the start.
          this.#failStart(outcome.error instanceof KirinError ? outcome.error : new KirinError('KIRIN_ERR_SERVICE', outcome.error.message));
          return;
        }
        this.#boot = 'workers';
      },
    );
  }

  #checkBoot(): void {
    if (this.#workers.length < this.#target || !this.#workers.every((w) => w.state === 'ready')) return;
    this.#boot = 'done';
    this.#settleStart?.(null);
    this.#settleStart = null;
    this.#tell('booted');
  }

  // ── reload: generations ─────────────────────────────────────────────────

  /** Step 1 of a reload: evaluate the config, in the background. */
  #beginReload(): void {
    const attempt: ReloadAttempt = {
      number: this.#generation + 1,
      phase: 'loading',
      replies: this.#reloadWanted ?? [],
      abandon: new AbortController(),
      plan: null,
      env: null,
      listeners: [],
      services: null,
      workers: [],
    };
    this.#reloadWanted = null;
    this.#reload = attempt;
    void this.#notifier.reloading();
    this.#inBackground(
      () => this.#loadPlan(attempt.abandon.signal),
      (outcome) => {
        if (this.#reload !== attempt) return;
        if (!outcome.ok) return this.#abortReload(outcome.error.message);
        this.#prepareServices(attempt, outcome.value.plan, outcome.value.env);
      },
    );
  }

  /** Step 2: open new sockets, and get the services the new plan wants ready beside the running ones. */
  #prepareServices(attempt: ReloadAttempt, plan: ServePlan, env: NodeJS.ProcessEnv): void {
    attempt.plan = plan;
    attempt.env = env;
    try {
      attempt.listeners = this.#openListeners(plan);
    } catch (error) {
      return this.#abortReload((error as Error).message);
    }
    attempt.phase = 'services';
    this.#inBackground(
      () => this.#services.prepare(plan, env, attempt.abandon.signal),
      (outcome) => {
        if (this.#reload !== attempt) {
          // Abandoned while it was finishing: what it started is not wanted.
          if (outcome.ok) this.#rollBackServices(outcome.value);
          return;
        }
        if (!outcome.ok) return this.#abortReload(outcome.error.message);
        attempt.services = outcome.value;
        this.#bootGeneration(attempt, plan, env);
      },
    );
  }

  /** Step 3: start the new generation; #checkReload swaps once every worker of it is ready. */
  #bootGeneration(attempt: ReloadAttempt, plan: ServePlan, env: NodeJS.ProcessEnv): void {
    attempt.phase = 'workers';
    for (let i = 1; i <= plan.workers; i++) attempt.workers.push(this.#spawn(attempt.number, i, plan, env, attempt.listeners));
    this.#logger.info({ generation: attempt.number, workers: plan.workers }, `starting generation ${attempt.number}`);
  }

  /** Step 4: every new worker is ready: the new generation serves, the old one drains. */
  #checkReload(): void {
    const attempt = this.#reload;
    if (attempt?.phase !== 'workers' || !attempt.workers.every((w) => w.state === 'ready')) return;
    const old = this.#workers.filter((w) => w.generation !== attempt.number);
    this.#reload = null;
    this.#generation = attempt.number;
    this.#plan = attempt.plan!;
    this.#env = attempt.env!;
    this.#target = attempt.plan!.workers;
    this.#current = attempt.listeners;
    this.#services.commit(attempt.services!);
    for (const worker of old) worker.drain();
    this.#closeUnusedListeners();
    this.#reloads++;
    this.#logger.info({ generation: attempt.number, workers: attempt.workers.length }, `reloaded: generation ${attempt.number} is serving; ${old.length} old worker${old.length === 1 ? '' : 's'} draining`);
    this.#tell('reload', true);
    void this.#notifier.ready();
    for (const reply of attempt.replies) reply({ ok: true, generation: attempt.number });
  }

  /** The reload failed or was abandoned: undo whatever step it had reached; the old generation never stopped serving. */
  #abortReload(reason: string, stack?: string): void {
    const attempt = this.#reload;
    if (!attempt) return;
    this.#reload = null;
    attempt.abandon.abort();
    for (const worker of attempt.workers) worker.kill('SIGKILL', 'reload-failed');
    this.#closeUnusedListeners(attempt.listeners);
    if (attempt.services) this.#rollBackServices(attempt.services);
    this.#logger.error({ stack }, `reload failed, generation ${this.#generation} keeps serving: ${reason}`);
    this.#tell('reload', false, reason);
    void this.#notifier.ready();
    for (const reply of attempt.replies) reply({ ok: false, generation: this.#generation, error: reason });
  }

  #rollBackServices(change: ServiceChange): void {
    this.#inBackground(
      () => this.#services.abort(change),
      (outcome) => {
        if (!outcome.ok) this.#logger.error(`stopping the services started for a failed reload failed: ${outcome.error.message}`);
      },
    );
  }

  /** Services only the old generation used stop once its last worker is gone. */
  #stopRetiredServices(): void {
    if (!this.#services.hasRetired || this.#workers.some((w) => w.generation < this.#generation)) return;
    this.#inBackground(
      () => this.#services.stopRetired(),
      (outcome) => {
        if (!outcome.ok) this.#logger.error(`stopping replaced services failed: ${outcome.error.message}`);
      },
    );
  }

  /** Opens the plan's sockets, reusing the ones already open for the same address. */
  #openListeners(plan: ServePlan): OpenListener[] {
    const wanted: OpenListener[] = [];
    const opened: OpenListener[] = [];
    try {
      for (const [addresses, secure] of [
        [plan.listen.http, false],
        [plan.listen.https, true],
      ] as const) {
        for (const address of addresses) {
          const key = listenerKey(address, secure);
          let listener = this.#listeners.get(key);
          if (!listener) {
            listener = openListener(address, secure);
            opened.push(listener);
            this.#listeners.set(key, listener);
          }
          wanted.push(listener);
        }
      }
    } catch (error) {
      for (const listener of opened) {
        closeListener(listener);
        this.#listeners.delete(listenerKey(listener.address, listener.secure));
      }
      throw error;
    }
    return wanted;
  }

  #closeUnusedListeners(only: OpenListener[] | null = null): void {
    const inUse = new Set(this.#current);
    for (const [key, listener] of this.#listeners) {
      if (!inUse.has(listener) && (only === null || only.includes(listener))) {
        closeListener(listener);
        this.#listeners.delete(key);
      }
    }
  }

  // ── stopping ────────────────────────────────────────────────────────────

  #beginStop(mode: 'graceful' | 'fast'): void {
    if (this.#stopping === 'fast' || this.#stopping === mode) return;
    this.#stopping = mode;
    this.#logger.info(mode === 'graceful' ? `stopping: draining ${this.#workers.length} workers (up to ${this.#plan.gracefulTimeoutMs / 1000} s)` : 'stopping now');
    void this.#notifier.stopping();
    if (this.#reload) this.#abortReload('the master is stopping');
    if (mode === 'graceful') {
      this.#stopDeadline = this.#clock.now() + this.#plan.gracefulTimeoutMs;
      for (const worker of this.#workers) worker.drain();
    } else {
      this.#stopDeadline = this.#clock.now() + FAST_STOP_MS;
      for (const worker of this.#workers) worker.kill('SIGQUIT', 'stop');
    }
  }

  /** One step of stopping; true when every worker is gone. */
  #stopStep(): boolean {
    if (this.#workers.length === 0) return true;
    if (this.#clock.now() > this.#stopDeadline) {
      for (const worker of this.#workers) {
        this.#logger.warn(`${worker} did not stop in time; killing it`);
        worker.kill('SIGKILL', 'stop');
      }
      this.#stopDeadline = this.#clock.now() + FAST_STOP_MS;
    }
    return false;
  }

  /**
   * The catch-all (Gunicorn's "Unhandled exception in main loop"): the loop's
   * state cannot be trusted any more, so no draining — workers get QUIT, then
   * KILL, and the master exits with INTERNAL_ERROR once they are gone.
   */
  async #halt(error: unknown): Promise<void> {
    this.#exitCode = ExitCode.INTERNAL_ERROR;
    this.#stopping = 'fast';
    this.#logger.fatal({ err: error }, `unhandled error in the master's loop: ${(error as Error)?.message ?? String(error)}; stopping the workers and services`);
    void this.#notifier.stopping();
    this.#reload?.abandon.abort();
    const workers = [...this.#workers];
    for (const signal of ['SIGQUIT', 'SIGKILL'] as const) {
      const gone = Promise.all(workers.map((w) => w.exited));
      for (const worker of workers) worker.kill(signal, 'halt');
      let cancel = () => {};
      const late = new Promise<void>((resolve) => (cancel = this.#clock.setTimer(FAST_STOP_MS, resolve)));
      await Promise.race([gone, late]);
      cancel();
    }
    this.#settleStart?.(new KirinError('KIRIN_ERR_INTERNAL', `the master's loop failed: ${(error as Error)?.message ?? String(error)}`, { exitCode: ExitCode.INTERNAL_ERROR }));
    this.#settleStart = null;
  }

  async #finish(): Promise<void> {
    // Extensions stop here, on a normal stop and when the start fails.
    this.#tell('finishing');
    for (const reply of this.#reloadWanted ?? []) reply({ ok: false, generation: this.#generation, error: 'the master is stopping' });
    this.#reloadWanted = null;
    await this.#services.stop();
    this.#guard.close();
    for (const listener of this.#listeners.values()) closeListener(listener);
    this.#listeners.clear();
    await this.#control?.close();
    if (this.#plan.pidFile) {
      try {
        unlinkSync(this.#plan.pidFile);
      } catch {
        // Never written, or already removed.
      }
    }
    this.#releaseProcess();
    if (this.#boot === 'done') this.#logger.info('stopped');
  }

  /**
   * Tells the extensions. A listener that throws is logged and the others still
   * hear: an extension's bug must not stop the supervision.
   */
  #tell<K extends keyof MasterEventMap>(event: K, ...args: MasterEventMap[K]): void {
    try {
      (this.emit as (event: K, ...args: MasterEventMap[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#logger.error({ err: error }, `a listener of the master's "${event}" event failed: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  // ── status ──────────────────────────────────────────────────────────────

  status(): MasterStatus {
    return {
      pid: process.pid,
      generation: this.#generation,
      startedAt: this.#startedAt,
      workers: this.#workers.map((w) => ({
        pid: w.pid,
        generation: w.generation,
        index: w.index,
        state: w.state,
        uptimeMs: w.uptimeMs,
        rss: w.rss,
        served: w.served,
        inflight: w.inflight,
        websockets: w.websockets,
        restarts: this.#slotRestarts.get(w.index) ?? 0,
      })),
      targetWorkers: this.#target,
      listeners: this.#current.map((l) => l.url),
      reloads: this.#reloads,
      restarts: { ...this.#restarts },
      configFile: this.#plan.configFile,
      services: this.#services.status(),
      dev: this.#plan.dev !== null,
    };
  }

  /** True when the master and at least one worker serve. */
  get healthy(): boolean {
    return this.#boot === 'done' && !this.#stopping && this.#workers.some((w) => w.state === 'ready');
  }

  /** True when every worker of the current generation is ready. */
  get ready(): boolean {
    const current = this.#workers.filter((w) => w.generation === this.#generation && w.replaces === null && w.state !== 'draining');
    return this.healthy && current.length >= this.#target && current.every((w) => w.state === 'ready') && this.#services.allRunning();
  }

  get services(): ServiceManager {
    return this.#services;
  }

  /** The control socket, for extensions that add commands (certs …). */
  get control(): ControlServer | null {
    return this.#control;
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
