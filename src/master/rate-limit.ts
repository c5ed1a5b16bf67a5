/**
 * The master's half of `rateLimit`: one token bucket per (route, client), so
 * the limit holds however the kernel spreads a client's connections over the
 * workers. Workers ask in batches (middleware/rate-limit-client.ts); the master
 * answers each entry with 0 (go ahead) or the milliseconds until the bucket
 * holds a token again.
 *
 * Memory stays bounded under a flood of distinct addresses: a bucket that has
 * refilled completely is the same as no bucket, so a sweep drops those, and past
 * MAX_BUCKETS the least recently used bucket goes first (that client then gets a
 * fresh burst — the price of a hard memory bound, paid only under a flood).
 */
import type { Master } from './master.ts';

/** The ask type workers use. */
export const RATE_LIMIT_ASK = 'rate-limit';

/**
 * One batch from a worker: a flat list of triples
 * `[perSecond, burst, key, perSecond, burst, key, …]` (flat, because IPC
 * serializes it as JSON and nested arrays cost more to encode and parse).
 */
export type RateLimitBatch = (number | string)[];

/** One number per triple: 0 when a token was taken, else ms until one is available. */
export type RateLimitAnswer = number[];

interface Bucket {
  tokens: number;
  /** performance.now() of the last update. */
  at: number;
  /** When the bucket will be full again if nobody takes from it: then it can be forgotten. */
  fullAt: number;
}

/** About 150 bytes each: 100k buckets are ~15 MB in the master. */
export const MAX_BUCKETS = 100_000;
const SWEEP_EVERY_MS = 10_000;

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #max: number;

  constructor(max = MAX_BUCKETS) {
    this.#max = max;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token for `key`; returns 0, or the ms until a token will be there. */
  take(key: string, perSecond: number, burst: number, now: number): number {
    let bucket = this.#buckets.get(key);
    let tokens: number;
    if (bucket === undefined) {
      tokens = burst;
      if (this.#buckets.size >= this.#max) this.#evictOldest();
    } else {
      tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
      // Re-inserting keeps the Map in least-recently-used order for eviction.
      this.#buckets.delete(key);
    }
    let wait = 0;
    if (tokens >= 1) tokens -= 1;
    else wait = Math.ceil(((1 - tokens) * 1000) / perSecond);
    if (bucket === undefined) bucket = { tokens, at: now, fullAt: 0 };
    bucket.tokens = tokens;
    bucket.at = now;
    bucket.fullAt = now + ((burst - tokens) * 1000) / perSecond;
    this.#buckets.set(key, bucket);
    return wait;
  }

  /** Forgets buckets that have refilled: they behave exactly like new ones. */
  sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) if (bucket.fullAt <= now) this.#buckets.delete(key);
  }

  #evictOldest(): void {
    const oldest = this.#buckets.keys().next();
    if (!oldest.done) this.#buckets.delete(oldest.value);
  }
}

/** Answers one batch; entries that are not well-formed are let through (0) rather than failing the batch. */
export function answerBatch(buckets: TokenBuckets, batch: unknown, now: number): RateLimitAnswer {
  if (!Array.isArray(batch)) return [];
  const answer: RateLimitAnswer = [];
  for (let i = 0; i + 2 < batch.length; i += 3) {
    const perSecond = batch[i];
    const burst = batch[i + 1];
    const key = batch[i + 2];
    if (typeof perSecond !== 'number' || typeof burst !== 'number' || typeof key !== 'string' || !(perSecond > 0) || !(burst >= 1)) answer.push(0);
    else answer.push(buckets.take(key, perSecond, burst, now));
  }
  return answer;
}

/** Registers the master's answer to the workers' rate-limit questions. */
export function attachRateLimits(master: Master): TokenBuckets {
  const buckets = new TokenBuckets();
  master.onAsk(RATE_LIMIT_ASK, (batch) => answerBatch(buckets, batch, performance.now()));
  setInterval(() => buckets.sweep(performance.now()), SWEEP_EVERY_MS).unref();
  return buckets;
}
