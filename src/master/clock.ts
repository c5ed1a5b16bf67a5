/**
 * Time as the master sees it. The loop, the backoff, the watchdog and the stop
 * deadlines read it, so unit tests can drive a whole supervisor through minutes
 * of its life in milliseconds (test/master/master.test.ts).
 */
export interface Clock {
  /** Milliseconds, like Date.now(). */
  now(): number;
  /** Calls `fn` once after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
