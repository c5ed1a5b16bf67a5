/**
 * Request metrics inside a worker: counts by site, route and status class, and
 * a latency histogram. The worker sends the deltas with each heartbeat; the
 * master adds them up across workers (observe/metrics.ts).
 */
import type { RequestObserver } from '../worker/pipeline.ts';

/** Upper bounds in seconds (Prometheus' default buckets, plus 30 s and 60 s). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface MetricsDelta {
  /** "site\u0000route\u0000class" → count. */
  requests: Record<string, number>;
  /** Counts per bucket (the last one is +Inf). */
  latency: number[];
  latencySum: number;
  latencyCount: number;
}

export class WorkerMetrics implements RequestObserver {
  #requests = new Map<string, number>();
  #latency = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  #latencySum = 0;
  #latencyCount = 0;

  done(_ctx: unknown, siteKey: string, route: string, status: number, durationMs: number): void {
    const key = `${siteKey}\u0000${route}\u0000${Math.floor(status / 100)}xx`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    const seconds = durationMs / 1000;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.#latency[i]!++;
    this.#latencySum += seconds;
    this.#latencyCount++;
  }

  /** The counts since the last call. */
  drain(): MetricsDelta | undefined {
    if (this.#latencyCount === 0 && this.#requests.size === 0) return undefined;
    const delta: MetricsDelta = {
      requests: Object.fromEntries(this.#requests),
      latency: this.#latency,
      latencySum: this.#latencySum,
      latencyCount: this.#latencyCount,
    };
    this.#requests = new Map();
    this.#latency = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
    this.#latencySum = 0;
    this.#latencyCount = 0;
    return delta;
  }
}
