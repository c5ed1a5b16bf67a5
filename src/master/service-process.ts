/**
 * One service: a program the master keeps running next to the workers.
 *
 *   spawn → starting (waits until its {socket}/{port} accepts) → running
 *     → exits → restarting (backoff: 100 ms doubling to 30 s; reset after 30 s up) → spawn …
 *   stop: SIGTERM to its process group, SIGKILL after stopTimeout
 *
 * Each service runs in its own process group (systemd's KillMode=control-group
 * in small): stopping or restarting it also ends what it started (gunicorn's
 * workers, a shell's children), so a restart never finds its socket or port
 * still held by an orphan.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import type { ServicePlan } from '../config/plan.ts';
import { KirinError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';
import { forEachLine } from '../util/lines.ts';
import { preparePrivateSocket } from '../util/private-socket.ts';
import type { ProcessGroups } from './group-guard.ts';
import { commandArgv, fillPlaceholders } from './service-command.ts';

export type ServiceState = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

export interface ServiceEvents {
  ready(service: ServiceProcess): void;
  exit(service: ServiceProcess, info: { code: number | null; signal: NodeJS.Signals | null; uptimeMs: number; restartInMs: number }): void;
  failed(service: ServiceProcess, error: KirinError): void;
}

const STABLE_UPTIME_MS = 30_000;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;
const READY_POLL_MS = 100;
/** After readyTimeout, keep looking, less often. */
const READY_POLL_SLOW_MS = 1_000;
const KILL_WAIT_MS = 2_000;
/** A line longer than this is logged in pieces (a program that never writes a newline cannot grow the master's memory). */
const MAX_LINE = 16 * 1024;

export class ServiceProcess {
  readonly name: string;
  plan: ServicePlan;
  /** The environment it runs with (the workers' env, then the service's own). */
  env: NodeJS.ProcessEnv;
  state: ServiceState = 'stopped';
  child: ChildProcess | null = null;
  restarts = 0;
  readonly #logger: Logger;
  readonly #output: Logger;
  readonly #events: ServiceEvents;
  readonly #groups: ProcessGroups;
  #crashes = 0;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  #readyTimer: NodeJS.Timeout | null = null;
  #stopping = false;
  #exited: Promise<void> = Promise.resolve();
  #readyWaiters: ((ready: boolean) => void)[] = [];

  constructor(plan: ServicePlan, env: NodeJS.ProcessEnv, logger: Logger, output: Logger, events: ServiceEvents, groups: ProcessGroups) {
    this.name = plan.name;
    this.plan = plan;
    this.env = env;
    this.#logger = logger;
    this.#output = output;
    this.#events = events;
    this.#groups = groups;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Where the proxy reaches it: 'unix:/…/name.sock', '127.0.0.1:PORT', or '' for a service without either. */
  get upstream(): string {
    if (this.plan.socket !== null) return `unix:${this.plan.socket}`;
    if (this.plan.port > 0) return `127.0.0.1:${this.plan.port}`;
    return '';
  }

  /**
   * Starts the program. Throws (KIRIN_ERR_SERVICE) when it cannot be started at
   * all — a missing program, a bad working folder; an exit later is restarted.
   */
  async start(): Promise<void> {
    this.#stopping = false;
    await this.#spawn();
  }

  /** After a failed start on reload: keep trying with backoff (the program may be installed meanwhile). */
  retryLater(): void {
    this.#stopping = false;
    this.#restartTimer = setTimeout(() => void this.#restart(), this.#nextBackoff());
  }

  /** Resolves true once it accepts connections, false after readyTimeout (it keeps starting in the background). */
  waitReady(): Promise<boolean> {
    if (this.state === 'running') return Promise.resolve(true);
    if (this.state === 'stopped') return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((w) => w !== done);
        resolve(false);
      }, this.plan.readyTimeoutMs);
      timer.unref();
      const done = (ready: boolean) => {
        clearTimeout(timer);
        resolve(ready);
      };
      this.#readyWaiters.push(done);
    });
  }

  /** SIGTERM to the group, SIGKILL after stopTimeout; resolves once it is gone. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#clearTimers();
    this.#settleWaiters(false);
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) {
      this.state = 'stopped';
      return;
    }
    const exited = this.#exited;
    this.#logger.info({ service: this.name, servicePid: child.pid }, `stopping service ${this.name} (pid ${child.pid})`);
    signalGroup(child, 'SIGTERM');
    if (!(await within(exited, this.plan.stopTimeoutMs))) {
      this.#logger.warn({ service: this.name, servicePid: child.pid }, `service ${this.name} did not stop within ${this.plan.stopTimeoutMs / 1000} s of SIGTERM; killing it`);
      signalGroup(child, 'SIGKILL');
      await within(exited, KILL_WAIT_MS);
    }
    this.state = 'stopped';
  }

  // ── running it ────────────────────────────────────────────────────────

  async #spawn(): Promise<void> {
    const plan = this.plan;
    const values = { socket: plan.socket, port: plan.port };
    let argv: { file: string; args: string[] };
    try {
      argv = commandArgv(plan.command, values);
      if (!existsSync(plan.cwd)) throw new Error(`its working folder ${plan.cwd} does not exist`);
      if (plan.socket !== null) preparePrivateSocket(plan.socket);
    } catch (error) {
      throw this.#cannotStart((error as Error).message);
    }
    const env: NodeJS.ProcessEnv = { ...this.env };
    for (const [key, value] of Object.entries(plan.env)) env[key] = fillPlaceholders(value, values);
    const child = spawn(argv.file, argv.args, { cwd: plan.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (error) => resolve(error));
    });
    if (spawned !== null) {
      const code = (spawned as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? `the program "${argv.file}" was not found (${argv.file.includes('/') ? `relative to ${plan.cwd}` : 'in PATH'}; is it installed?)`
          : code === 'EACCES'
            ? `the program "${argv.file}" is not executable`
            : spawned.message;
      throw this.#cannotStart(why);
    }
    this.child = child;
    // Its own session (detached): the group id is its pid. Listed so it dies with the master, however the master ends.
    this.#groups.add(child.pid!);
    this.#startedAt = Date.now();
    this.state = plan.socket !== null || plan.port > 0 ? 'starting' : 'running';
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.#onExit(child, code, signal);
      resolve();
    }));
    child.on('error', (error) => this.#logger.warn({ service: this.name, err: error }, `service ${this.name}: ${error.message}`));
    forwardLines(child.stdout!, (line) => this.#output.info({ stream: 'stdout', servicePid: child.pid }, line));
    forwardLines(child.stderr!, (line) => this.#output.info({ stream: 'stderr', servicePid: child.pid }, line));
    this.#logger.info({ service: this.name, servicePid: child.pid, command: plan.command }, `service ${this.name} started (pid ${child.pid}): ${argv.file} ${argv.args.join(' ')}`);
    if (this.state === 'starting') this.#pollReady(child);
    else this.#becameReady();
  }

  #cannotStart(why: string): KirinError {
    const error = new KirinError('KIRIN_ERR_SERVICE', `service "${this.name}": cannot start \`${this.plan.command}\`: ${why}`);
    this.state = 'failed';
    return error;
  }

  #pollReady(child: ChildProcess): void {
    let warned = false;
    const attempt = () => {
      this.#readyTimer = null;
      if (this.child !== child || this.#stopping) return;
      void accepts(this.plan).then((ok) => {
        if (this.child !== child || this.#stopping || child.exitCode !== null || child.signalCode !== null) return;
        if (ok) {
          this.#becameReady();
          return;
        }
        const late = Date.now() - this.#startedAt > this.plan.readyTimeoutMs;
        if (late && !warned) {
          warned = true;
          this.#logger.warn(
            { service: this.name, servicePid: child.pid, upstream: this.upstream },
            `service ${this.name} does not accept connections on ${this.upstream} after ${this.plan.readyTimeoutMs / 1000} s (readyTimeout); does its command bind {socket} or {port}?`,
          );
        }
        this.#readyTimer = setTimeout(attempt, late ? READY_POLL_SLOW_MS : READY_POLL_MS);
      });
    };
    attempt();
  }

  #becameReady(): void {
    this.state = 'running';
    if (this.plan.socket !== null || this.plan.port > 0) {
      this.#logger.info({ service: this.name, servicePid: this.pid, upstream: this.upstream }, `service ${this.name} accepts connections on ${this.upstream}`);
    }
    this.#settleWaiters(true);
    this.#events.ready(this);
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // Whatever it started goes with it, so the restart finds its socket and port free.
    signalGroup(child, 'SIGKILL');
    if (child.pid !== undefined) this.#groups.remove(child.pid);
    if (this.child !== child) return;
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    this.#readyTimer = null;
    if (this.#stopping) {
      this.state = 'stopped';
      this.#logger.info({ service: this.name, code, signal }, `service ${this.name} stopped`);
      return;
    }
    const uptimeMs = Date.now() - this.#startedAt;
    if (uptimeMs >= STABLE_UPTIME_MS) this.#crashes = 0;
    const restartInMs = this.#nextBackoff();
    this.state = 'restarting';
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.#logger.error(
      { service: this.name, servicePid: child.pid, code, signal, uptimeMs, restartInMs },
      `service ${this.name} exited (${how}) after ${(uptimeMs / 1000).toFixed(1)} s; restarting in ${restartInMs} ms`,
    );
    this.#events.exit(this, { code, signal, uptimeMs, restartInMs });
    this.#restartTimer = setTimeout(() => void this.#restart(), restartInMs);
  }

  async #restart(): Promise<void> {
    this.#restartTimer = null;
    if (this.#stopping) return;
    this.restarts++;
    try {
      await this.#spawn();
    } catch (error) {
      // It could start before (the program was removed, the folder renamed): say so, and keep trying.
      const failure = error as KirinError;
      this.#logger.error({ service: this.name }, failure.message);
      this.#events.failed(this, failure);
      this.#restartTimer = setTimeout(() => void this.#restart(), this.#nextBackoff());
    }
  }

  /** One more failure in a row: 100 ms, 200 ms, 400 ms … up to 30 s. */
  #nextBackoff(): number {
    this.#crashes++;
    return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.#crashes - 1));
  }

  #clearTimers(): void {
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    this.#restartTimer = null;
    this.#readyTimer = null;
  }

  #settleWaiters(ready: boolean): void {
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w(ready);
  }
}

/** True when the service's socket or port takes a connection. */
function accepts(plan: ServicePlan): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = plan.socket !== null ? connect({ path: plan.socket }) : connect({ host: '127.0.0.1', port: plan.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** A service's output lines for the log: CRLF endings trimmed, blank lines left out, long lines in pieces. */
function forwardLines(stream: Readable, onLine: (line: string) => void): void {
  forEachLine(
    stream,
    (line) => {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (text.length > 0) onLine(text);
    },
    { maxLength: MAX_LINE },
  );
}

/** True when `promise` settles within `ms`; the timer never outlives it. */
function within(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
