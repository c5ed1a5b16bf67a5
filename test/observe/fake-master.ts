/**
 * A stand-in for the Master in unit tests of the observability parts: the same
 * events and status shape, driven by hand.
 */
import { EventEmitter } from 'node:events';
import type { ServePlan } from '../../src/config/plan.ts';
import type { MasterStatus, WorkerStatus } from '../../src/master/master.ts';
import { Providers } from '../../src/master/providers.ts';
import type { ServiceStatus } from '../../src/master/services.ts';

export class FakeMaster extends EventEmitter {
  readonly providers = new Providers();
  healthy = true;
  ready = true;
  workers: WorkerStatus[] = [
    { pid: 11, generation: 1, index: 1, state: 'ready', uptimeMs: 1, rss: 1, served: 0, inflight: 0, websockets: 0, restarts: 0 },
    { pid: 12, generation: 1, index: 2, state: 'ready', uptimeMs: 1, rss: 1, served: 0, inflight: 0, websockets: 0, restarts: 0 },
  ];
  services: ServiceStatus[] = [];
  generation = 1;
  targetWorkers = 2;
  plan = {
    sites: [{ key: 'a.test', routes: [{ at: 'sites["a.test"]["/api/"]', handler: { type: 'proxy', to: ['http://127.0.0.1:2', 'http://127.0.0.1:3'] } }] }],
    notify: { email: null, webhook: null },
  } as unknown as ServePlan;

  status(): MasterStatus {
    return {
      pid: 1,
      generation: this.generation,
      startedAt: 0,
      workers: this.workers,
      targetWorkers: this.targetWorkers,
      listeners: [],
      reloads: 0,
      restarts: { crash: 0, watchdog: 0, 'max-requests': 0, memory: 0, 'uncaught-exception': 0, 'boot-error': 0 },
      configFile: null,
      services: this.services,
    };
  }
}

/** What the master passes as `worker` with its events. */
export function fakeWorker(pid: number, extra: Record<string, unknown> = {}) {
  return { pid, index: 1, generation: 1, startedAt: Date.now() - 5000, exitCode: null, exitSignal: 'SIGKILL', lastStall: null, bootError: null, ...extra };
}
