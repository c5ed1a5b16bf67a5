/**
 * Request metrics inside a worker: counts by site, route and status class, and
 * a latency histogram. Counting is a few array increments per request; the
 * worker sends the totals since the last heartbeat to the master, which adds
 * them up across workers (observe/metrics.ts).
 */
import type { CompiledRoute, CompiledSite } from '../worker/context.ts';
import type { RequestObserver } from '../worker/pipeline.ts';

/** Upper bounds in seconds (Prometheus' default buckets, plus 30 s and 60 s). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface RequestCount {
  site: string;
  route: string;
  /** '1xx' … '5xx'. */
  status: string;
  count: number;
}

export interface MetricsDelta {
  requests: RequestCount[];
  /** Counts per bucket (the last one is +Inf). */
  latency: number[];
  latencySum: number;
  latencyCount: number;
  /** Of the requests, those the fast lane answered (worker/fast-lane.ts). */
  fastLane: number;
}

interface RouteCounts {
  site: string;
  route: string;
  /** Index 1..5 by status class. */
  byClass: number[];
}

/** Requests refused before a route was chosen (400, 421 …). */
const NO_ROUTE = {};

export class WorkerMetrics implements RequestObserver {
  #routes = new Map<object, RouteCounts>();
  #latency = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  #latencySum = 0;
  #latencyCount = 0;
  #fastLane = 0;

  done(site: CompiledSite | null, route: CompiledRoute | null, status: number, durationMs: number): void {
    const key: CompiledRoute | object = route ?? NO_ROUTE;
    let counts = this.#routes.get(key);
    if (counts === undefined) {
      counts = { site: site === null ? '' : site.plan.key, route: route === null ? '' : route.prefix, byClass: [0, 0, 0, 0, 0, 0] };
      this.#routes.set(key, counts);
    }
    const statusClass = (status / 100) | 0;
    counts.byClass[statusClass >= 1 && statusClass <= 5 ? statusClass : 5]!++;
    const seconds = durationMs / 1000;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.#latency[i]!++;
    this.#latencySum += seconds;
    this.#latencyCount++;
  }

  fastLane(): void {
    this.#fastLane++;
  }

  /** The counts since the last call, or undefined when nothing happened. */
  drain(): MetricsDelta | undefined {
    if (this.#latencyCount === 0) return undefined;
    const requests: RequestCount[] = [];
    for (const counts of this.#routes.values()) {
      for (let c = 1; c <= 5; c++) {
        const count = counts.byClass[c]!;
        if (count > 0) requests.push({ site: counts.site, route: counts.route, status: `${c}xx`, count });
        counts.byClass[c] = 0;
      }
    }
    const delta: MetricsDelta = { requests, latency: this.#latency, latencySum: this.#latencySum, latencyCount: this.#latencyCount, fastLane: this.#fastLane };
    this.#latency = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
    this.#latencySum = 0;
    this.#latencyCount = 0;
    this.#fastLane = 0;
    return delta;
  }
}
