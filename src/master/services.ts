/**
 * Services: other programs the master runs next to the workers (gunicorn for a
 * Django site, a queue worker …), what systemd or supervisor did for them.
 *
 * The master calls `start` before the first generation spawns and `update`
 * before a reload's new generation spawns, so `{port}` choices are in the plan
 * the workers get. Events on the master (for alerts): `service-ready`,
 * `service-exit`, `service-failed`.
 */
import type { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import type { LogLevel } from '../config/types.ts';
import type { ServePlan, ServicePlan } from '../config/plan.ts';
import { KirinError } from '../errors.ts';
import { createLogger, type Logger } from '../observe/log.ts';
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

export class ServiceManager {
  readonly #logger: Logger;
  readonly #events: EventEmitter | null;
  readonly #outputLogger: ServiceLoggerFactory;
  readonly #services = new Map<string, ServiceProcess>();
  /** What each running service was started from, to tell on reload whether it changed. */
  readonly #definitions = new Map<string, string>();

  constructor(logger: Logger, events: EventEmitter | null = null, outputLogger?: ServiceLoggerFactory) {
    this.#logger = logger;
    this.#events = events;
    this.#outputLogger = outputLogger ?? ((role) => createLogger({ level: logger.level as LogLevel, role }));
  }

  /**
   * Starts every service of the plan and waits (up to each one's readyTimeout)
   * until it accepts connections. Fills in `{port}` choices on the plan.
   * Throws KIRIN_ERR_SERVICE, after stopping the others, when one cannot start.
   */
  async start(plan: ServePlan, env: NodeJS.ProcessEnv): Promise<void> {
    const started: ServiceProcess[] = [];
    for (const wanted of Object.values(plan.services)) {
      if (wanted.usesPort) wanted.port = await freeLoopbackPort();
      const service = this.#create(wanted, env);
      try {
        await this.#launch(service);
      } catch (error) {
        await Promise.all([...started, service].map((s) => this.#remove(s)));
        throw error;
      }
      started.push(service);
    }
    await this.#awaitReady(started);
  }

  /**
   * Applies a reloaded plan: keeps unchanged services (and their ports),
   * restarts changed ones, starts new ones, stops removed ones. Never throws:
   * a service that cannot start is logged and retried, and the reload goes on.
   */
  async update(plan: ServePlan, env: NodeJS.ProcessEnv): Promise<void> {
    for (const [name, service] of this.#services) {
      if (!(name in plan.services)) {
        this.#logger.info(`service ${name} is no longer in the config; stopping it`);
        await this.#remove(service);
      }
    }
    const changed: ServiceProcess[] = [];
    for (const wanted of Object.values(plan.services)) {
      const current = this.#services.get(wanted.name);
      if (current && wanted.usesPort && current.plan.port > 0) wanted.port = current.plan.port;
      else if (wanted.usesPort) wanted.port = await freeLoopbackPort();
      if (current && this.#definitions.get(wanted.name) === definition(wanted, env)) {
        current.plan = wanted;
        continue;
      }
      if (current) {
        this.#logger.info(`service ${wanted.name} changed; restarting it`);
        await this.#remove(current);
      }
      const service = this.#create(wanted, env);
      try {
        await this.#launch(service);
        changed.push(service);
      } catch (error) {
        this.#logger.error(`${(error as Error).message}; trying again later`);
        service.retryLater();
      }
    }
    await this.#awaitReady(changed);
  }

  /** Stops every service (SIGTERM, then SIGKILL after its stopTimeout). */
  async stop(): Promise<void> {
    const all = [...this.#services.values()];
    await Promise.all(all.map((s) => this.#remove(s)));
  }

  status(): ServiceStatus[] {
    return [...this.#services.values()].map((s) => ({ name: s.name, pid: s.pid, state: s.state, restarts: s.restarts, upstream: s.upstream }));
  }

  /** True when every service is up (for /readyz). */
  allRunning(): boolean {
    for (const service of this.#services.values()) if (service.state !== 'running') return false;
    return true;
  }

  #create(plan: ServicePlan, env: NodeJS.ProcessEnv): ServiceProcess {
    const events: ServiceEvents = {
      ready: (s) => this.#events?.emit('service-ready', { name: s.name, pid: s.pid, upstream: s.upstream }),
      exit: (s, info) => this.#events?.emit('service-exit', { name: s.name, pid: s.pid, restarts: s.restarts, ...info }),
      failed: (s, error) => this.#events?.emit('service-failed', { name: s.name, error: error.message }),
    };
    const service = new ServiceProcess(plan, { ...env }, this.#logger, this.#outputLogger(`service:${plan.name}`), events);
    this.#services.set(plan.name, service);
    this.#definitions.set(plan.name, definition(plan, env));
    return service;
  }

  async #launch(service: ServiceProcess): Promise<void> {
    try {
      await service.start();
    } catch (error) {
      const failure = error instanceof KirinError ? error : new KirinError('KIRIN_ERR_SERVICE', `service "${service.name}": ${(error as Error).message}`);
      this.#events?.emit('service-failed', { name: service.name, error: failure.message });
      throw failure;
    }
  }

  async #remove(service: ServiceProcess): Promise<void> {
    if (this.#services.get(service.name) === service) {
      this.#services.delete(service.name);
      this.#definitions.delete(service.name);
    }
    await service.stop();
  }

  async #awaitReady(services: ServiceProcess[]): Promise<void> {
    const results = await Promise.all(services.map((s) => s.waitReady()));
    services.forEach((service, i) => {
      if (!results[i] && service.state === 'starting') {
        this.#logger.warn(`service ${service.name} is not accepting connections on ${service.upstream} yet; starting the workers anyway (requests wait for it)`);
      }
    });
  }
}

/** Everything that, when changed by a reload, means the service must restart. */
function definition(plan: ServicePlan, env: NodeJS.ProcessEnv): string {
  const sortedEnv = Object.keys(env)
    .sort()
    .map((key) => [key, env[key]]);
  return JSON.stringify([plan.command, plan.cwd, plan.env, plan.socket, plan.usesPort, sortedEnv]);
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
