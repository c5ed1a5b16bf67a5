/**
 * Services: other programs the master runs next to the workers (gunicorn for a
 * Django site, a queue worker …), what systemd or supervisor did for them.
 *
 * Services follow the workers' generations, so a reload never touches what
 * serves now until the new generation has proven itself:
 *
 *   start(plan)      before the first generation: start every service, fill in {port}
 *   prepare(plan)    before a reload's new generation: unchanged services are kept
 *                    (same process, same {port}, same {socket}); a changed or new one
 *                    starts NEXT TO the running one, on a port and socket of its own,
 *                    and the new generation's plan points at it
 *   commit(change)   the new generation serves: the prepared services become the
 *                    current ones; the ones they replace (and removed ones) keep
 *                    running for the old generation's draining proxies
 *   stopRetired()    the old generation is gone: stop what it alone used
 *   abort(change)    the new generation failed: stop what was prepared; the old
 *                    services never stopped, so they serve on as they were
 *   stop()           stop everything (and cancel a start or prepare in progress)
 *
 * Events for alerts go to the master's map: `service-ready`, `service-exit`,
 * `service-failed`.
 */
import { realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import type { LogLevel } from '../config/types.ts';
import type { ServePlan, ServicePlan } from '../config/plan.ts';
import { MAX_UNIX_SOCKET_PATH, serviceSocketPath } from '../config/service-socket.ts';
import { KirinError } from '../errors.ts';
import { createLogger, type Logger } from '../observe/log.ts';
import type { ServiceEventMap } from './events.ts';
import { GroupGuard } from './group-guard.ts';
import { ServiceProcess, type ServiceEvents, type ServiceState } from './service-process.ts';

export interface ServiceStatus {
  name: string;
  pid: number | null;
  state: ServiceState;
  restarts: number;
  /** 'unix:/…/name.sock', '127.0.0.1:PORT', or ''. */
  upstream: string;
}

/** The logger a service's own output goes to: role `service:<name>`. */
export type ServiceLoggerFactory = (role: string) => Logger;

/** Where the manager's events go (the master's typed emit). */
export type ServiceEventSink = <K extends keyof ServiceEventMap>(event: K, ...args: ServiceEventMap[K]) => void;

/** What a reload's `prepare` did, for `commit` or `abort`. */
export interface ServiceChange {
  /** Changed or new services, started for the new generation. */
  readonly started: ServiceProcess[];
  /** Unchanged services and their plan in the new config (applied on commit). */
  readonly kept: [ServiceProcess, ServicePlan][];
  /** Running services the new generation does not use (changed or removed). */
  readonly replaced: ServiceProcess[];
}

export class ServiceManager {
  readonly #logger: Logger;
  readonly #emit: ServiceEventSink;
  readonly #outputLogger: ServiceLoggerFactory;
  readonly #guard: GroupGuard;
  readonly #ownsGuard: boolean;
  /** The services the current generation uses. */
  readonly #current = new Map<string, ServiceProcess>();
  /** What each service was started from, to tell on reload whether it changed. */
  readonly #definitions = new WeakMap<ServiceProcess, string>();
  /** Started by a prepare (in progress or done) and not yet committed or aborted. */
  readonly #prepared = new Set<ServiceProcess>();
  /** Replaced by a commit; they serve the old generation until it is gone. */
  #retired: ServiceProcess[] = [];
  /** Every service whose process may still run (until its stop has finished): their sockets are taken. */
  readonly #live = new Set<ServiceProcess>();
  /** The start or prepare in progress, which stop() cancels and waits for. */
  #inProgress: Promise<unknown> | null = null;
  readonly #stopping = new AbortController();

  /**
   * `guard`: the master's, shared with its workers (the master closes it); without
   * one the manager keeps its own and closes it when it stops.
   */
  constructor(logger: Logger, emit: ServiceEventSink = () => {}, outputLogger?: ServiceLoggerFactory, guard?: GroupGuard) {
    this.#logger = logger;
    this.#emit = emit;
    this.#outputLogger = outputLogger ?? ((role) => createLogger({ level: logger.level as LogLevel, role }));
    this.#ownsGuard = guard === undefined;
    this.#guard = guard ?? new GroupGuard(logger);
  }

  /**
   * Starts every service of the plan and waits (up to each one's readyTimeout)
   * until it accepts connections. Fills in `{port}` choices on the plan.
   * Throws KIRIN_ERR_SERVICE, after stopping the others, when one cannot start.
   */
  start(plan: ServePlan, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<void> {
    return this.#exclusive(signal, async (cancelled) => {
      for (const service of await this.#startAll(Object.values(plan.services), env, cancelled)) {
        this.#prepared.delete(service);
        this.#current.set(service.name, service);
      }
    });
  }

  /**
   * Gets a reloaded plan's services ready without touching the running ones
   * (see the top of this file). Fills in `{port}` and `{socket}` on the plan.
   * Throws — after stopping what it started — when a service cannot start or
   * `signal` aborts; then nothing has changed.
   */
  prepare(plan: ServePlan, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ServiceChange> {
    return this.#exclusive(signal, async (cancelled) => {
      const kept: [ServiceProcess, ServicePlan][] = [];
      const fresh: ServicePlan[] = [];
      const replaced: ServiceProcess[] = [];
      for (const wanted of Object.values(plan.services)) {
        const current = this.#current.get(wanted.name);
        if (current && this.#definitions.get(current) === definition(wanted, env)) {
          wanted.port = current.plan.port;
          wanted.socket = current.plan.socket;
          kept.push([current, wanted]);
          continue;
        }
        if (current) {
          this.#logger.info(`service ${wanted.name} changed; starting the new one next to the running one`);
          replaced.push(current);
        }
        fresh.push(wanted);
      }
      for (const [name, current] of this.#current) {
        if (!(name in plan.services)) replaced.push(current);
      }
      const started = await this.#startAll(fresh, env, cancelled);
      return { started, kept, replaced };
    });
  }

  /** The new generation serves with the prepared services. */
  commit(change: ServiceChange): void {
    for (const [service, plan] of change.kept) service.plan = plan;
    for (const service of change.replaced) {
      if (this.#current.get(service.name) === service) this.#current.delete(service.name);
      this.#retired.push(service);
    }
    for (const service of change.started) {
      this.#prepared.delete(service);
      this.#current.set(service.name, service);
    }
  }

  /** The new generation failed: stop what was prepared for it. */
  async abort(change: ServiceChange): Promise<void> {
    await Promise.all(change.started.map((service) => this.#stopPrepared(service)));
  }

  /** True while replaced services wait for the old generation to be gone. */
  get hasRetired(): boolean {
    return this.#retired.length > 0;
  }

  /** The old generation is gone: stop the services only it used. */
  async stopRetired(): Promise<void> {
    const retired = this.#retired;
    this.#retired = [];
    for (const service of retired) {
      if (!this.#current.has(service.name)) this.#logger.info(`service ${service.name} is no longer in the config; stopping it`);
    }
    await Promise.all(retired.map((service) => this.#stopService(service)));
  }

  /**
   * Stops every service (SIGTERM, then SIGKILL after its stopTimeout) — current,
   * prepared, retired, and those already stopping — after cancelling a start or
   * prepare in progress.
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#inProgress?.catch(() => {});
    this.#current.clear();
    this.#prepared.clear();
    this.#retired = [];
    await Promise.all([...this.#live].map((service) => this.#stopService(service)));
    if (this.#ownsGuard) this.#guard.close();
  }

  status(): ServiceStatus[] {
    return [...this.#current.values()].map((s) => ({ name: s.name, pid: s.pid, state: s.state, restarts: s.restarts, upstream: s.upstream }));
  }

  /** True when every service is up (for /readyz). */
  allRunning(): boolean {
    for (const service of this.#current.values()) if (service.state !== 'running') return false;
    return true;
  }

  /** Runs one start or prepare at a time, cancelled by `signal` or by stop(). */
  #exclusive<T>(signal: AbortSignal | undefined, work: (cancelled: AbortSignal) => Promise<T>): Promise<T> {
    if (this.#inProgress) return Promise.reject(new Error('services are already being started'));
    const cancelled = signal ? AbortSignal.any([signal, this.#stopping.signal]) : this.#stopping.signal;
    const running = cancelled.aborted ? Promise.reject(cancelledError()) : work(cancelled);
    this.#inProgress = running;
    const done = () => {
      if (this.#inProgress === running) this.#inProgress = null;
    };
    running.then(done, done);
    return running;
  }

  /**
   * Starts services one by one, then waits for them to accept connections. On a
   * failure or cancellation it stops what it started and throws.
   */
  async #startAll(plans: ServicePlan[], env: NodeJS.ProcessEnv, cancelled: AbortSignal): Promise<ServiceProcess[]> {
    const started: ServiceProcess[] = [];
    try {
      for (const wanted of plans) {
        const defined = definition(wanted, env);
        if (wanted.usesPort) wanted.port = await freeLoopbackPort();
        if (wanted.socket !== null) wanted.socket = this.#unusedSocketPath(wanted);
        throwIfCancelled(cancelled);
        const service = this.#create(wanted, env, defined);
        started.push(service);
        await this.#launch(service);
        throwIfCancelled(cancelled);
      }
      await this.#awaitReady(started, cancelled);
      throwIfCancelled(cancelled);
      return started;
    } catch (error) {
      await Promise.all(started.map((service) => this.#stopPrepared(service)));
      throw error;
    }
  }

  /**
   * `<name>.sock` unless a running service (one a new service is about to
   * replace, or one still serving a draining generation) has it: then
   * `<name>.2.sock`, `<name>.3.sock` …, so both can run side by side.
   */
  #unusedSocketPath(plan: ServicePlan): string {
    // A service still stopping keeps its path: gunicorn, for one, removes its socket file as it exits.
    const taken = new Set([...this.#live].map((s) => s.plan.socket));
    let copy = 1;
    while (taken.has(serviceSocketPath(plan.socket!, copy))) copy++;
    const path = serviceSocketPath(plan.socket!, copy);
    if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH) {
      throw new KirinError('KIRIN_ERR_SERVICE', `service "${plan.name}": the socket path for {socket} (${path}) is longer than unix sockets allow (${MAX_UNIX_SOCKET_PATH} bytes); set a shorter stateDir`);
    }
    return path;
  }

  #create(plan: ServicePlan, env: NodeJS.ProcessEnv, defined: string): ServiceProcess {
    const events: ServiceEvents = {
      ready: (s) => this.#emit('service-ready', { name: s.name, pid: s.pid, upstream: s.upstream }),
      exit: (s, info) => this.#emit('service-exit', { name: s.name, pid: s.pid, restarts: s.restarts, ...info }),
      failed: (s, error) => this.#emit('service-failed', { name: s.name, error: error.message }),
    };
    const service = new ServiceProcess(plan, { ...env }, this.#logger, this.#outputLogger(`service:${plan.name}`), events, this.#guard);
    this.#definitions.set(service, defined);
    this.#prepared.add(service);
    this.#live.add(service);
    return service;
  }

  async #launch(service: ServiceProcess): Promise<void> {
    try {
      await service.start();
    } catch (error) {
      const failure = error instanceof KirinError ? error : new KirinError('KIRIN_ERR_SERVICE', `service "${service.name}": ${(error as Error).message}`);
      this.#emit('service-failed', { name: service.name, error: failure.message });
      throw failure;
    }
  }

  async #stopPrepared(service: ServiceProcess): Promise<void> {
    this.#prepared.delete(service);
    await this.#stopService(service);
  }

  async #stopService(service: ServiceProcess): Promise<void> {
    await service.stop();
    this.#live.delete(service);
  }

  async #awaitReady(services: ServiceProcess[], cancelled: AbortSignal): Promise<void> {
    const results = await Promise.race([Promise.all(services.map((s) => s.waitReady())), untilAborted(cancelled)]);
    if (results === null) return;
    services.forEach((service, i) => {
      if (!results[i] && service.state === 'starting') {
        this.#logger.warn(`service ${service.name} is not accepting connections on ${service.upstream} yet; starting the workers anyway (requests wait for it)`);
      }
    });
  }
}

/**
 * Everything that, when changed by a reload, means the service must restart
 * (taken from the config's plan, before {port} and {socket} are chosen). The
 * folder counts as the one its path leads to now: after `kirin deploy`
 * switches `current`, `current/mysite` is the same path but new code, and the
 * running gunicorn sits in the old release.
 */
function definition(plan: ServicePlan, env: NodeJS.ProcessEnv): string {
  const sortedEnv = Object.keys(env)
    .sort()
    .map((key) => [key, env[key]]);
  return JSON.stringify([plan.command, plan.cwd, realFolder(plan.cwd), plan.env, plan.socket, plan.usesPort, sortedEnv]);
}

function realFolder(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    // Missing: starting the service will say so.
    return path;
  }
}

function cancelledError(): Error {
  return new Error('cancelled: the master is stopping, or the reload was abandoned');
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw cancelledError();
}

/** Resolves null once `signal` aborts (never, if it does not). */
function untilAborted(signal: AbortSignal): Promise<null> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(null);
    else signal.addEventListener('abort', () => resolve(null), { once: true });
  });
}

/** A TCP port free on 127.0.0.1 right now, for `{port}`. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
