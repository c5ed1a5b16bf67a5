/**
 * Active health checks: every `interval`, each worker asks each upstream of the
 * route for `health.path` and counts the answer healthy when its status is in
 * the expected range and it arrives within `timeout`. One check per target at
 * a time; timers never keep a draining worker alive.
 */
import type { Dispatcher } from 'undici';
import type { HealthCheckPlan } from '../../config/plan.ts';
import type { Target } from './target.ts';

export type HealthResult = (target: Target, healthy: boolean, detail: string) => void;

export class HealthChecker {
  readonly #targets: readonly Target[];
  readonly #plan: HealthCheckPlan;
  readonly #host: (target: Target) => string;
  readonly #onResult: HealthResult;
  readonly #running = new Set<Target>();
  #timer: NodeJS.Timeout | null = null;

  constructor(targets: readonly Target[], plan: HealthCheckPlan, host: (target: Target) => string, onResult: HealthResult) {
    this.#targets = targets;
    this.#plan = plan;
    this.#host = host;
    this.#onResult = onResult;
  }

  start(): void {
    this.#checkAll();
    this.#timer = setInterval(() => this.#checkAll(), this.#plan.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #checkAll(): void {
    for (const target of this.#targets) if (!this.#running.has(target)) this.#check(target);
  }

  #check(target: Target): void {
    this.#running.add(target);
    const plan = this.#plan;
    const probe = new Probe(plan, (healthy, detail) => {
      this.#running.delete(target);
      if (this.#timer !== null) this.#onResult(target, healthy, detail);
    });
    target.pool.dispatch(
      {
        method: 'GET',
        path: plan.path,
        headers: { host: this.#host(target), 'user-agent': 'kirin-health-check' },
        headersTimeout: plan.timeoutMs,
        bodyTimeout: plan.timeoutMs,
      },
      probe,
    );
  }
}

/** One health request: done once, whichever comes first of the answer, an error or the timeout. */
class Probe implements Dispatcher.DispatchHandler {
  readonly #plan: HealthCheckPlan;
  readonly #done: (healthy: boolean, detail: string) => void;
  readonly #timer: NodeJS.Timeout;
  #controller: Dispatcher.DispatchController | null = null;
  #status = 0;
  #finished = false;

  constructor(plan: HealthCheckPlan, done: (healthy: boolean, detail: string) => void) {
    this.#plan = plan;
    this.#done = done;
    // Covers the connect as well, which the pool's own connect timeout may allow longer.
    this.#timer = setTimeout(() => {
      this.#finish(false, `no answer within ${plan.timeoutMs} ms`);
      this.#controller?.abort(new Error('health check timed out'));
    }, plan.timeoutMs);
    this.#timer.unref();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#finished) controller.abort(new Error('health check timed out'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode >= 200) this.#status = statusCode;
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    const { expectMin, expectMax, path } = this.#plan;
    const ok = this.#status >= expectMin && this.#status <= expectMax;
    this.#finish(ok, ok ? `GET ${path} answered ${this.#status}` : `GET ${path} answered ${this.#status}, expected ${expectMin === expectMax ? expectMin : `${expectMin}-${expectMax}`}`);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    const code = (error as { code?: string }).code;
    this.#finish(false, `GET ${this.#plan.path} failed: ${code ?? error.message}`);
  }

  #finish(healthy: boolean, detail: string): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#done(healthy, detail);
  }
}
