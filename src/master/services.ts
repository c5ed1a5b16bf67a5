/**
 * Services: other programs the master runs next to the workers (gunicorn for a
 * Django site, a queue worker …). (To be written: start, readiness, restart
 * with backoff, logs with the service name, stop with a grace period.)
 */
import type { ServePlan } from '../config/plan.ts';
import type { Logger } from '../observe/log.ts';

export interface ServiceStatus {
  name: string;
  pid: number | null;
  state: 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';
  restarts: number;
  upstream: string;
}

export class ServiceManager {
  readonly #logger: Logger;
  constructor(logger: Logger) {
    this.#logger = logger;
  }
  /** Starts every service of the plan; fills in `{port}` choices on the plan. */
  async start(plan: ServePlan, _env: NodeJS.ProcessEnv): Promise<void> {
    if (Object.keys(plan.services).length > 0) this.#logger.warn('services are not implemented yet');
  }
  /** Applies a reloaded plan: restarts services whose definition changed, starts new ones, stops removed ones. */
  async update(_plan: ServePlan, _env: NodeJS.ProcessEnv): Promise<void> {}
  async stop(): Promise<void> {}
  status(): ServiceStatus[] {
    return [];
  }
  allRunning(): boolean {
    return true;
  }
}
