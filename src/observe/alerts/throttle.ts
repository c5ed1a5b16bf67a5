/**
 * How often alerts may go out. Two limits, like Django's error mails wished they
 * had: each problem (signature) at most `perWindow` times per window (default
 * once per 10 minutes), and all problems together at most `perHour` an hour.
 * What is held back is counted, and the next alert that goes out says so.
 */

export interface ThrottleOptions {
  windowMs?: number;
  perHour?: number;
}

export type Admission =
  /** heldBack: occurrences of this problem held back since its last alert. */
  | { send: true; heldBack: number; heldBackByHourlyLimit: number }
  | { send: false; retryAt: number };

export const ALERT_WINDOW_MS = 10 * 60_000;
export const ALERTS_PER_HOUR = 30;
const HOUR_MS = 60 * 60_000;

interface SignatureState {
  windowStart: number;
  sent: number;
  heldBack: number;
}

export class AlertThrottle {
  readonly windowMs: number;
  readonly perHour: number;
  readonly #signatures = new Map<string, SignatureState>();
  #sentTimes: number[] = [];
  #heldBackByHourlyLimit = 0;

  constructor(options: ThrottleOptions = {}) {
    this.windowMs = options.windowMs ?? ALERT_WINDOW_MS;
    this.perHour = options.perHour ?? ALERTS_PER_HOUR;
  }

  /**
   * May an alert for `signature` go out now? `perWindow` is 1 for errors, 2 for
   * things that go down and come back (so "down" and "back" both get through).
   * `weight` is how many occurrences this one stands for (counted when held back).
   */
  admit(signature: string, now: number, perWindow = 1, weight = 1): Admission {
    let state = this.#signatures.get(signature);
    if (!state || now - state.windowStart >= this.windowMs) {
      state = { windowStart: now, sent: 0, heldBack: state?.heldBack ?? 0 };
      this.#signatures.set(signature, state);
    }
    if (state.sent >= perWindow) {
      state.heldBack += weight;
      return { send: false, retryAt: state.windowStart + this.windowMs };
    }
    this.#sentTimes = this.#sentTimes.filter((t) => now - t < HOUR_MS);
    if (this.#sentTimes.length >= this.perHour) {
      this.#heldBackByHourlyLimit += weight;
      return { send: false, retryAt: this.#sentTimes[0]! + HOUR_MS };
    }
    state.sent++;
    this.#sentTimes.push(now);
    const heldBack = state.heldBack;
    state.heldBack = 0;
    const byHour = this.#heldBackByHourlyLimit;
    this.#heldBackByHourlyLimit = 0;
    this.#forgetOld(now);
    return { send: true, heldBack, heldBackByHourlyLimit: byHour };
  }

  #forgetOld(now: number): void {
    if (this.#signatures.size < 1000) return;
    for (const [signature, state] of this.#signatures) {
      if (now - state.windowStart >= this.windowMs && state.heldBack === 0) this.#signatures.delete(signature);
    }
  }
}
