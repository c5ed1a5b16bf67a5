/**
 * The worker's half of `rateLimit`: asks the master (which holds the buckets,
 * master/rate-limit.ts) whether a request may go ahead.
 *
 * An IPC round trip costs ~30–60 µs of CPU on each side. Two things make it
 * cheaper without changing a single answer:
 *
 * - Batching: every question asked in the same event-loop turn (a burst of
 *   requests read from several sockets at once) travels in one message.
 * - Remembered refusals: once the master says "no token for 7 s", this worker
 *   refuses that key by itself for those 7 s. Tokens only come back with time,
 *   and refused requests take none, so the master would answer the same. A
 *   client hammering a limited route costs no IPC at all.
 *
 * Leasing tokens to workers was the other option: fewer messages for admitted
 * requests, but a worker holding unused tokens makes another refuse early
 * (burst 5 on two workers could refuse the 3rd request), and expired leases
 * lose tokens. Exact answers were worth the one message per admitted batch.
 *
 * If the master does not answer within ASK_TIMEOUT_MS the request goes ahead
 * (fail open: a rate limit must not take the site down with it), a warning is
 * logged once, and for PAUSE_AFTER_TIMEOUT_MS requests go ahead without asking,
 * so an outage does not add the timeout to every request.
 */
import type { Logger } from '../observe/log.ts';
import { RATE_LIMIT_ASK, type RateLimitAnswer, type RateLimitBatch } from '../master/rate-limit.ts';

export type Ask = <T = unknown>(type: string, payload: unknown) => Promise<T>;

export const ASK_TIMEOUT_MS = 500;
export const PAUSE_AFTER_TIMEOUT_MS = 5_000;
/** Remembered refusals per worker; beyond this the oldest are forgotten (the master still decides). */
const MAX_REMEMBERED = 10_000;

interface Waiter {
  resolve: (waitMs: number) => void;
}

export interface RateLimitClientOptions {
  timeoutMs?: number;
  pauseMs?: number;
  now?: () => number;
}

export class RateLimitClient {
  readonly #ask: Ask;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #pauseMs: number;
  readonly #now: () => number;
  /** key → performance.now() until which the master said there is no token. */
  readonly #refusedUntil = new Map<string, number>();
  #batch: RateLimitBatch = [];
  #waiters: Waiter[] = [];
  #scheduled = false;
  #failingOpenUntil = 0;
  #degraded = false;

  constructor(ask: Ask, logger: Logger, options: RateLimitClientOptions = {}) {
    this.#ask = ask;
    this.#logger = logger;
    this.#timeoutMs = options.timeoutMs ?? ASK_TIMEOUT_MS;
    this.#pauseMs = options.pauseMs ?? PAUSE_AFTER_TIMEOUT_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Ms to wait if this worker already knows `key` has no token, else 0 (then
   * call `take`). Synchronous, so a refused flood never allocates a promise.
   */
  knownWait(key: string): number {
    const until = this.#refusedUntil.get(key);
    if (until === undefined) return 0;
    const wait = until - this.#now();
    if (wait > 0) return wait;
    this.#refusedUntil.delete(key);
    return 0;
  }

  /** Takes a token: resolves to 0 (go ahead) or the ms until one is available. */
  take(key: string, perSecond: number, burst: number): Promise<number> {
    if (this.#failingOpenUntil > this.#now()) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.#batch.push(perSecond, burst, key);
      this.#waiters.push({ resolve });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // After the I/O callbacks of this turn: everything read from the sockets now goes in one message.
        setImmediate(() => this.#send());
      }
    });
  }

  #send(): void {
    const batch = this.#batch;
    const waiters = this.#waiters;
    this.#batch = [];
    this.#waiters = [];
    this.#scheduled = false;
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      this.#failOpen(`the master did not answer within ${this.#timeoutMs} ms`);
      for (const w of waiters) w.resolve(0);
    }, this.#timeoutMs);
    this.#ask<RateLimitAnswer>(RATE_LIMIT_ASK, batch).then(
      (answer) => {
        clearTimeout(timer);
        if (this.#degraded) {
          this.#degraded = false;
          this.#logger.info('rate limiting: the master answers again; limits apply');
        }
        if (settled) return;
        settled = true;
        const now = this.#now();
        for (let i = 0; i < waiters.length; i++) {
          const wait = Array.isArray(answer) && typeof answer[i] === 'number' ? answer[i]! : 0;
          if (wait > 0) this.#remember(batch[i * 3 + 2] as string, now + wait);
          waiters[i]!.resolve(wait);
        }
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        this.#failOpen(`the master refused: ${(error as Error)?.message ?? String(error)}`);
        for (const w of waiters) w.resolve(0);
      },
    );
  }

  #remember(key: string, until: number): void {
    if (this.#refusedUntil.size >= MAX_REMEMBERED) {
      const oldest = this.#refusedUntil.keys().next();
      if (!oldest.done) this.#refusedUntil.delete(oldest.value);
    }
    this.#refusedUntil.set(key, until);
  }

  #failOpen(why: string): void {
    this.#failingOpenUntil = this.#now() + this.#pauseMs;
    if (this.#degraded) return;
    this.#degraded = true;
    // Once per outage, not per request: a stuck master must not also flood the log.
    this.#logger.warn(`rate limiting is OFF on this worker (fail open): ${why}; requests go ahead unlimited until the master answers again`);
  }
}

/** One client per worker process, shared by every rate-limited route so their questions batch together. */
const clients = new WeakMap<Ask, RateLimitClient>();

export function rateLimitClientFor(ask: Ask, logger: Logger): RateLimitClient {
  let client = clients.get(ask);
  if (!client) {
    client = new RateLimitClient(ask, logger);
    clients.set(ask, client);
  }
  return client;
}
