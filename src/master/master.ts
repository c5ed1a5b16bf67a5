/**
 * The master: supervises, never handles a request.
 *
 * Gunicorn's arbiter shape: signal handlers only queue; one loop wakes up (on a
 * signal, a worker event, or every 250 ms), handles what is queued, kills hung
 * workers, and brings the pool to the size it should have.
 *
 *   HUP         reload: new config and code in a new generation; swap when all of it is ready
 *   TERM        graceful stop: drain every worker, then exit 0
 *   INT, QUIT   fast stop
 *   TTIN, TTOU  one worker more / fewer (never below one)
 *   USR1        reopen log files
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import type { ServePlan } from '../config/plan.ts';
import { ExitCode, KirinError } from '../errors.ts';
import type { StallReport, WorkerMessage } from '../ipc.ts';
import type { Logger } from '../observe/log.ts';
import { ControlServer } from './control.ts';
import { closeListener, listenerKey, openListener, type OpenListener } from './listeners.ts';
import { Providers } from './providers.ts';
import { ServiceManager } from './services.ts';
import type { SystemdNotifier } from './systemd.ts';
import { WorkerHandle } from './worker-handle.ts';

/** How a new plan is made on reload: re-read the config and env files. */
export type PlanLoader = () => Promise<{ plan: ServePlan; env: NodeJS.ProcessEnv }>;

export type MasterSignal = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGTTIN' | 'SIGTTOU' | 'SIGUSR1';

const SIGNALS: readonly MasterSignal[] = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1'];

/** A worker up this long has proven itself: its crash starts the backoff over. */
const STABLE_UPTIME_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;
const FAST_STOP_MS = 2_000;
const LOOP_MS = 250;

export type ExitReason = 'crash' | 'watchdog' | 'max-requests' | 'memory' | 'uncaught-exception' | 'boot-error';

export interface WorkerStatus {
  pid: number;
  generation: number;
  index: number;
  state: string;
  uptimeMs: number;
  rss: number;
  served: number;
  inflight: number;
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
}

interface PendingGeneration {
  number: number;
  plan: ServePlan;
  env: NodeJS.ProcessEnv;
  workers: WorkerHandle[];
  listeners: OpenListener[];
  startedAt: number;
  waiters: ((result: ReloadResult) => void)[];
}

export interface ReloadResult {
  ok: boolean;
  generation: number;
  error?: string;
}

export class Master extends EventEmitter {
  readonly #logger: Logger;
  readonly #loadPlan: PlanLoader;
  readonly #notifier: SystemdNotifier;
  readonly #signalQueue: MasterSignal[] = [];
  readonly #startedAt = Date.now();
  #plan: ServePlan;
  #env: NodeJS.ProcessEnv;
  #generation = 1;
  #target: number;
  #workers: WorkerHandle[] = [];
  #listeners = new Map<string, OpenListener>();
  #current: OpenListener[] = [];
  #pending: PendingGeneration | null = null;
  #reloadQueued: ((result: ReloadResult) => void)[] | null = null;
  #booted = false;
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
  #bootResolve: ((error: Error | null) => void) | null = null;
  /** Restarts per worker position, for `kirin status`. */
  readonly #slotRestarts = new Map<number, number>();
  /** Facts other parts publish for the admin listener, metrics and alerts. */
  readonly providers = new Providers();
  readonly #askHandlers = new Map<string, (payload: unknown, worker: WorkerHandle) => unknown>();

  constructor(options: { plan: ServePlan; env: NodeJS.ProcessEnv; logger: Logger; loadPlan: PlanLoader; notifier: SystemdNotifier }) {
    super();
    this.#plan = options.plan;
    this.#env = options.env;
    this.#logger = options.logger;
    this.#loadPlan = options.loadPlan;
    this.#notifier = options.notifier;
    this.#target = options.plan.workers;
    this.#services = new ServiceManager(options.logger, this);
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
   * Opens the sockets, starts services and the first generation, and resolves
   * once every worker is ready. Rejects (after cleaning up) when they cannot start.
   */
  async start(): Promise<void> {
    for (const signal of SIGNALS) process.on(signal, () => this.#enqueue(signal));
    this.#current = this.#openListeners(this.#plan);
    mkdirSync(this.#plan.stateDir, { recursive: true, mode: 0o700 });
    this.#control = new ControlServer(this, this.#logger);
    await this.#control.listen(this.#plan.stateDir);
    // Extensions start here (the admin listener: /healthz answers 503 while workers boot).
    this.emit('starting');
    try {
      await this.#services.start(this.#plan, this.#env);
    } catch (error) {
      // A service that cannot start (a missing program) stops the start: close what is open, or the process would linger.
      await this.#finish();
      throw error;
    }
    const booted = new Promise<Error | null>((resolve) => (this.#bootResolve = resolve));
    void this.#loop();
    const error = await booted;
    if (error) {
      await this.#finish();
      throw error;
    }
    if (this.#plan.pidFile) writeFileSync(this.#plan.pidFile, `${process.pid}\n`);
    this.#logger.info(
      { generation: this.#generation, workers: this.#target, listen: this.#current.map((l) => l.url), control: this.#control.path },
      `ready: serving ${this.#current.map((l) => l.url).join(', ')} with ${this.#target} worker${this.#target === 1 ? '' : 's'}`,
    );
    await this.#notifier.ready(`serving with ${this.#target} workers`);
  }

  /** Resolves with the exit code once the master has stopped. */
  readonly stopped = new Promise<number>((resolve) => this.once('stopped', resolve));

  // ── signals and commands ───────────────────────────────────────────────

  #enqueue(signal: MasterSignal): void {
    // NO LOGGING here (Gunicorn): just queue and wake the loop.
    if (this.#signalQueue.length < 10) this.#signalQueue.push(signal);
    this.#wake?.();
  }

  /** Starts a reload; resolves when the new generation serves or the attempt failed. */
  reload(): Promise<ReloadResult> {
    return new Promise((resolve) => {
      if (this.#reloadQueued) this.#reloadQueued.push(resolve);
      else this.#reloadQueued = [resolve];
      this.#wake?.();
    });
  }

  stop(mode: 'graceful' | 'fast' = 'graceful'): void {
    this.#enqueue(mode === 'graceful' ? 'SIGTERM' : 'SIGQUIT');
  }

  #handleSignal(signal: MasterSignal): void {
    switch (signal) {
      case 'SIGHUP':
        this.#logger.info('SIGHUP: reloading');
        void this.reload();
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

  // ── the loop ────────────────────────────────────────────────────────────

  async #loop(): Promise<void> {
    for (;;) {
      while (this.#signalQueue.length > 0) this.#handleSignal(this.#signalQueue.shift()!);
      if (this.#stopping) {
        if (this.#stopStep()) break;
      } else {
        if (this.#reloadQueued && !this.#pending && this.#booted) await this.#beginReload();
        this.#murderHungWorkers();
        this.#recycleOversized();
        this.#manageWorkers();
        if (!this.#booted) this.#checkBoot();
        this.#checkPending();
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, LOOP_MS);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
      });
    }
    await this.#finish();
    this.emit('stopped', this.#exitCode);
  }

  /** A worker whose heartbeat stopped for `timeout` is blocked: kill it (Gunicorn's "WORKER TIMEOUT"). */
  #murderHungWorkers(): void {
    const timeout = this.#plan.timeoutMs;
    const now = Date.now();
    for (const worker of this.#workers) {
      if (worker.state === 'ready' && timeout > 0 && now - worker.lastHeartbeat > timeout + 1000) {
        const stall = worker.lastStall && worker.lastStall.at >= worker.lastHeartbeat ? worker.lastStall : null;
        const requests = stall?.requests.length ? stall.requests.join('; ') : 'no request known (blocked outside JavaScript, or in a timer)';
        this.#logger.error(
          { pid: worker.pid, blockedMs: now - worker.lastHeartbeat, requests: stall?.requests ?? [], stack: stall?.stack ?? [] },
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
    if (!this.#booted && this.#workers.length === 0) {
      for (let i = 1; i <= this.#target; i++) this.#spawn(this.#generation, i, this.#plan, this.#env, this.#current);
      return;
    }
    const active = this.#workers.filter((w) => w.generation === this.#generation && (w.state === 'booting' || w.state === 'ready') && w.replaces === null);
    const now = Date.now();
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
    if (serving < this.#target && now >= this.#nextSpawnAt && this.#booted) {
      const used = new Set(active.map((w) => w.index));
      let index = 1;
      while (used.has(index)) index++;
      this.#spawn(this.#generation, index, this.#plan, this.#env, this.#current);
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
      events: {
        message: (w, m) => this.#onMessage(w, m),
        stall: (w, r) => this.#onStall(w, r),
        exit: (w, code, signal) => this.#onExit(w, code, signal),
      },
    });
    this.#workers.push(worker);
    this.#logger.debug({ pid: worker.pid, generation, index }, `spawned ${worker}`);
    return worker;
  }

  // ── worker events ───────────────────────────────────────────────────────

  #onMessage(worker: WorkerHandle, message: WorkerMessage): void {
    switch (message.t) {
      case 'ready':
        if (worker.state === 'booting') {
          worker.state = 'ready';
          worker.readyAt = Date.now();
          worker.lastHeartbeat = Date.now();
          this.#wake?.();
        }
        break;
      case 'hb':
        worker.lastHeartbeat = Date.now();
        worker.served = message.served;
        worker.inflight = message.inflight;
        worker.rss = message.rss;
        if (message.metrics) this.emit('metrics', worker, message.metrics);
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
        this.emit(`worker-event:${message.type}`, worker, message.payload);
        break;
    }
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

  #onExit(worker: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    this.#workers = this.#workers.filter((w) => w !== worker);
    this.emit('worker-exit', worker);
    if (worker.replaces) {
      // A replacement died before taking over: the old worker keeps serving; try again after a pause.
      worker.replaces.replacement = null;
    }
    if (worker.replacement && worker.replacement.alive) {
      // A retiring worker died before its replacement was ready: the replacement takes the slot.
      worker.replacement.replaces = null;
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (this.#stopping || worker.drainStartedAt > 0) {
      this.#logger.debug(`${worker} exited (${how})`);
      this.#wake?.();
      return;
    }
    if (this.#pending && this.#pending.workers.includes(worker)) {
      const failure = this.#describeBootFailure(worker, how);
      this.#abortPending(failure.message, failure.stack);
      return;
    }
    if (!this.#booted) {
      this.#bootFailed(worker, how);
      return;
    }
    const reason: ExitReason = worker.killedFor === 'watchdog' ? 'watchdog' : worker.bootError ? 'boot-error' : 'crash';
    this.#countRestart(reason, worker.index);
    // Backoff: immediate for a first crash, then doubling; a worker that ran STABLE_UPTIME_MS resets it.
    if (worker.uptimeMs > STABLE_UPTIME_MS || reason === 'watchdog') this.#crashes = 0;
    this.#crashes++;
    const delay = this.#crashes <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.#crashes - 2));
    this.#nextSpawnAt = Date.now() + delay;
    if (reason === 'watchdog') {
      this.#logger.warn(`${worker} was killed by the watchdog; starting a new one`);
    } else if (worker.bootError) {
      this.#logger.error({ stack: worker.bootError.stack }, `${worker} failed to start: ${worker.bootError.message}; retrying in ${delay} ms`);
    } else {
      const hint = signal === 'SIGKILL' ? ' Perhaps out of memory?' : '';
      this.#logger.error({ pid: worker.pid, code, signal, uptimeMs: worker.uptimeMs }, `${worker} died (${how}) after ${(worker.uptimeMs / 1000).toFixed(1)} s.${hint} Starting a new one${delay ? ` in ${delay} ms` : ''}`);
    }
    if (this.#crashes === 10) this.emit('crash-loop', this.#crashes);
    this.#wake?.();
  }

  #countRestart(reason: ExitReason, index: number): void {
    this.#restarts[reason]++;
    this.#slotRestarts.set(index, (this.#slotRestarts.get(index) ?? 0) + 1);
    this.emit('worker-restart', reason);
  }

  #describeBootFailure(worker: WorkerHandle, how: string): { message: string; stack: string | undefined } {
    if (worker.bootError) return { message: worker.bootError.message, stack: worker.bootError.stack };
    if (worker.killedFor === 'boot-timeout') return { message: `${worker} did not become ready within ${this.#bootTimeout() / 1000} s`, stack: undefined };
    return { message: `${worker} exited during start-up (${how})`, stack: undefined };
  }

  #bootFailed(worker: WorkerHandle, how: string): void {
    const { message, stack } = this.#describeBootFailure(worker, how);
    const exitCode = worker.bootError?.exitCode ?? ExitCode.WORKER_BOOT_ERROR;
    this.#exitCode = exitCode;
    for (const other of this.#workers) other.kill('SIGKILL', 'boot-failed');
    this.#stopping = 'fast';
    this.#stopDeadline = Date.now() + FAST_STOP_MS;
    const error = new KirinError(exitCode === ExitCode.APP_LOAD_ERROR ? 'KIRIN_ERR_APP_LOAD' : 'KIRIN_ERR_BOOT', message, { detail: stack, exitCode });
    this.#bootResolve?.(error);
    this.#bootResolve = null;
    this.#wake?.();
  }

  // ── reload: generations ─────────────────────────────────────────────────

  async #beginReload(): Promise<void> {
    const waiters = this.#reloadQueued ?? [];
    this.#reloadQueued = null;
    await this.#notifier.reloading();
    let loaded: { plan: ServePlan; env: NodeJS.ProcessEnv };
    let listeners: OpenListener[];
    try {
      loaded = await this.#loadPlan();
      listeners = this.#openListeners(loaded.plan);
    } catch (error) {
      this.#reloadFailed((error as Error).message, waiters);
      return;
    }
    // Services first: the new generation's proxies need their sockets and ports.
    await this.#services.update(loaded.plan, loaded.env);
    const number = this.#generation + 1;
    this.#pending = { number, plan: loaded.plan, env: loaded.env, workers: [], listeners, startedAt: Date.now(), waiters };
    for (let i = 1; i <= loaded.plan.workers; i++) this.#pending.workers.push(this.#spawn(number, i, loaded.plan, loaded.env, listeners));
    this.#logger.info({ generation: number, workers: loaded.plan.workers }, `starting generation ${number}`);
  }

  #checkPending(): void {
    const pending = this.#pending;
    if (!pending) return;
    if (!pending.workers.every((w) => w.state === 'ready')) return;
    // Every new worker is ready: swap.
    const old = this.#workers.filter((w) => w.generation !== pending.number);
    this.#pending = null;
    this.#generation = pending.number;
    this.#plan = pending.plan;
    this.#env = pending.env;
    this.#target = pending.plan.workers;
    this.#current = pending.listeners;
    for (const worker of old) worker.drain();
    this.#closeUnusedListeners();
    this.#reloads++;
    this.#logger.info({ generation: pending.number, workers: pending.workers.length }, `reloaded: generation ${pending.number} is serving; ${old.length} old worker${old.length === 1 ? '' : 's'} draining`);
    this.emit('reload', true);
    void this.#notifier.ready();
    for (const w of pending.waiters) w({ ok: true, generation: pending.number });
  }

  #abortPending(reason: string, stack?: string): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = null;
    for (const worker of pending.workers) worker.kill('SIGKILL', 'reload-failed');
    this.#closeUnusedListeners(pending.listeners);
    this.#reloadFailed(reason, pending.waiters, stack);
  }

  /** The old generation keeps serving; everyone who asked hears why. */
  #reloadFailed(reason: string, waiters: ((result: ReloadResult) => void)[], stack?: string): void {
    this.#logger.error({ stack }, `reload failed, generation ${this.#generation} keeps serving: ${reason}`);
    this.emit('reload', false, reason);
    void this.#notifier.ready();
    for (const w of waiters) w({ ok: false, generation: this.#generation, error: reason });
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

  #closeUnusedListeners(extra: OpenListener[] = []): void {
    const inUse = new Set(this.#current);
    for (const [key, listener] of this.#listeners) {
      if (!inUse.has(listener) && (extra.length === 0 || extra.includes(listener))) {
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
    if (this.#pending) this.#abortPending('stopping');
    if (mode === 'graceful') {
      this.#stopDeadline = Date.now() + this.#plan.gracefulTimeoutMs;
      for (const worker of this.#workers) worker.drain();
    } else {
      this.#stopDeadline = Date.now() + FAST_STOP_MS;
      for (const worker of this.#workers) worker.kill('SIGQUIT', 'stop');
    }
  }

  /** One step of stopping; true when every worker is gone. */
  #stopStep(): boolean {
    if (this.#workers.length === 0) return true;
    if (Date.now() > this.#stopDeadline) {
      for (const worker of this.#workers) {
        this.#logger.warn(`${worker} did not stop in time; killing it`);
        worker.kill('SIGKILL', 'stop');
      }
      this.#stopDeadline = Date.now() + FAST_STOP_MS;
    }
    return false;
  }

  async #finish(): Promise<void> {
    // Extensions stop here, on a normal stop and when the start fails.
    this.emit('finishing');
    await this.#services.stop();
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
    for (const signal of SIGNALS) process.removeAllListeners(signal);
    if (this.#booted) this.#logger.info('stopped');
  }

  /** Called by the loop's first pass when every worker of generation 1 is ready. */
  #markBooted(): void {
    this.#booted = true;
    this.#bootResolve?.(null);
    this.#bootResolve = null;
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
        restarts: this.#slotRestarts.get(w.index) ?? 0,
      })),
      targetWorkers: this.#target,
      listeners: this.#current.map((l) => l.url),
      reloads: this.#reloads,
      restarts: { ...this.#restarts },
      configFile: this.#plan.configFile,
      services: this.#services.status(),
    };
  }

  /** True when the master and at least one worker serve. */
  get healthy(): boolean {
    return this.#booted && !this.#stopping && this.#workers.some((w) => w.state === 'ready');
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

  /** Checked on every loop pass before boot completes. */
  #checkBoot(): void {
    if (!this.#booted && this.#workers.length >= this.#target && this.#workers.every((w) => w.state === 'ready')) this.#markBooted();
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
