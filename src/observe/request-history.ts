/**
 * The last 15 minutes of traffic for the dashboard's charts: a ring of 5-second
 * slots, each with its request count, 5xx count and latency histogram. Fixed
 * size (180 slots), filled from the heartbeats' deltas, nothing per request.
 */
import { countDelta } from './metrics.ts';
import { LATENCY_BUCKETS, type MetricsDelta } from './worker-metrics.ts';

export const SLOT_MS = 5_000;
export const WINDOW_MS = 15 * 60_000;
const SLOTS = WINDOW_MS / SLOT_MS;

interface Slot {
  /** Start of the slot (ms since epoch), or -1 when never used. */
  start: number;
  requests: number;
  errors: number;
  latencySum: number;
  latencyCount: number;
  buckets: number[];
}

export interface HistoryPoint {
  /** Start of the 5-second slot, ms since epoch. */
  t: number;
  /** Requests per second over the slot. */
  rate: number;
  /** 5xx responses per second. */
  errorRate: number;
  /** Mean latency in ms, or null when there were no requests. */
  avgMs: number | null;
  /** 95th percentile in ms (estimated from the histogram like Prometheus' histogram_quantile), or null. */
  p95Ms: number | null;
}

export class RequestHistory {
  readonly #slots: Slot[] = Array.from({ length: SLOTS }, () => emptySlot(-1));

  add(delta: MetricsDelta, now = Date.now()): void {
    const slot = this.#slotFor(now);
    const { requests, errors } = countDelta(delta);
    slot.requests += requests;
    slot.errors += errors;
    slot.latencySum += delta.latencySum;
    slot.latencyCount += delta.latencyCount;
    for (let i = 0; i < slot.buckets.length; i++) slot.buckets[i]! += delta.latency[i] ?? 0;
  }

  /** One point per finished slot of the last 15 minutes, oldest first; empty slots count as zero traffic. */
  points(now = Date.now()): HistoryPoint[] {
    const current = Math.floor(now / SLOT_MS) * SLOT_MS;
    const out: HistoryPoint[] = [];
    for (let start = current - WINDOW_MS + SLOT_MS; start < current; start += SLOT_MS) {
      const slot = this.#slots[(start / SLOT_MS) % SLOTS]!;
      const used = slot.start === start;
      const seconds = SLOT_MS / 1000;
      out.push({
        t: start,
        rate: used ? slot.requests / seconds : 0,
        errorRate: used ? slot.errors / seconds : 0,
        avgMs: used && slot.latencyCount > 0 ? (slot.latencySum / slot.latencyCount) * 1000 : null,
        p95Ms: used && slot.latencyCount > 0 ? quantile(0.95, slot.buckets) * 1000 : null,
      });
    }
    return out;
  }

  #slotFor(now: number): Slot {
    const start = Math.floor(now / SLOT_MS) * SLOT_MS;
    const index = (start / SLOT_MS) % SLOTS;
    let slot = this.#slots[index]!;
    if (slot.start !== start) {
      slot = emptySlot(start);
      this.#slots[index] = slot;
    }
    return slot;
  }
}

function emptySlot(start: number): Slot {
  return { start, requests: 0, errors: 0, latencySum: 0, latencyCount: 0, buckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0) };
}

/**
 * The q-quantile in seconds from per-bucket counts, interpolating linearly inside
 * the bucket (Prometheus' histogram_quantile). Beyond the last bound: the last bound.
 */
export function quantile(q: number, counts: readonly number[], bounds: readonly number[] = LATENCY_BUCKETS): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return NaN;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (seen + count >= rank && count > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return bounds[bounds.length - 1]!;
}
