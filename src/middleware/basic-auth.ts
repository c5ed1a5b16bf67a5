/**
 * `auth`: HTTP Basic authentication against bcrypt or argon2 hashes.
 *
 * A hash verification costs 50–300 ms of CPU, and a browser sends the same
 * credentials with every request, so a success is remembered: per user, a
 * hash of the password keyed with a secret that exists only in this process,
 * for CACHE_TTL_MS. A later request with the same password costs one SHA-256
 * and a constant-time comparison. Failures are never remembered. The cache
 * holds at most one entry per configured user, so it is bounded by the config.
 *
 * An unknown user name costs the same verification as a known one (against a
 * configured hash, result ignored), so timing does not reveal which names exist.
 * Verifications run on the thread pool, at most MAX_CONCURRENT at once per
 * worker (the pool also reads static files and runs compression); beyond
 * MAX_QUEUED waiting, requests get 503 rather than an ever longer queue. Put a
 * `rateLimit` on the route too: it runs before auth, so guessing is slowed
 * before each guess costs a verification.
 *
 * Neither the password nor the Authorization header is ever logged.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CompileEnv, Middleware, NodeResponse } from '../worker/context.ts';
import { sendError } from '../worker/error-response.ts';
import { loadVerifier, type Verify } from './password-hash.ts';

/** How long a verified password is trusted without verifying again. */
export const CACHE_TTL_MS = 5 * 60_000;
const MAX_CACHED = 10_000;
export const MAX_CONCURRENT = 2;
export const MAX_QUEUED = 64;

export async function basicAuth(plan: { users: Record<string, string>; realm: string }, env: CompileEnv): Promise<Middleware> {
  const names = Object.keys(plan.users);
  const users = new Map(names.map((name) => [name, plan.users[name]!]));
  const verify = await loadVerifier([...users.values()], (i) => `${env.route.at}.auth.users[${JSON.stringify(names[i])}]`);
  return basicAuthWith(users, plan.realm, verify);
}

/** The middleware itself, with the verifier given (tests pass a counting one). */
export function basicAuthWith(users: ReadonlyMap<string, string>, realm: string, verify: Verify, now: () => number = Date.now): Middleware {
  const decoy = users.values().next().value!;
  const challenge = { 'www-authenticate': `Basic realm="${realm.replace(/[\\"]/g, '\\$&')}", charset="UTF-8"` };
  const cache = new VerifiedPasswords(now);
  const queue = new VerifyQueue(MAX_CONCURRENT, MAX_QUEUED);
  const refuse = (res: NodeResponse) => sendError(res, 401, 'this resource needs a user name and password', { headers: challenge });
  return (ctx, next) => {
    const credentials = parseBasicAuthorization(ctx.req.headers.authorization);
    if (credentials === null) {
      refuse(ctx.res);
      return;
    }
    const { user, password } = credentials;
    if (cache.has(user, password)) return next();
    const hash = users.get(user);
    const verified = queue.run(() => verify(hash ?? decoy, password));
    if (verified === null) {
      sendError(ctx.res, 503, 'too many sign-ins are being checked; try again shortly', { headers: { 'retry-after': '1' } });
      return;
    }
    return verified.then(
      (ok) => {
        if (ok && hash !== undefined) {
          cache.add(user, password);
          return next();
        }
        refuse(ctx.res);
      },
      () => refuse(ctx.res),
    );
  };
}

/** `Basic dXNlcjpwYXNz` → { user, password }, or null when it is not well-formed Basic credentials. */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | null {
  if (header === undefined || header.length < 7) return null;
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (match === null) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Passwords that verified recently: per user, SHA-256 of a per-process secret
 * key, the user and the password. (The digest is only ever compared here, never
 * shown, so a keyed prefix does what an HMAC would — at 2 µs instead of 20 µs
 * for createHmac, on every request of a signed-in browser.)
 */
class VerifiedPasswords {
  readonly #key = randomBytes(32).toString('hex');
  readonly #entries = new Map<string, { digest: Buffer; expires: number }>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  #digest(user: string, password: string): Buffer {
    return hash('sha256', `${this.#key}${user}\0${password}`, 'buffer');
  }

  has(user: string, password: string): boolean {
    const entry = this.#entries.get(user);
    if (entry === undefined) return false;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(user);
      return false;
    }
    return timingSafeEqual(entry.digest, this.#digest(user, password));
  }

  add(user: string, password: string): void {
    this.#entries.delete(user);
    if (this.#entries.size >= MAX_CACHED) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(user, { digest: this.#digest(user, password), expires: this.#now() + CACHE_TTL_MS });
  }
}

/** Runs at most `concurrency` tasks at once; refuses (null) when `maxQueued` already wait. */
class VerifyQueue {
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #waiting: (() => void)[] = [];
  #running = 0;

  constructor(concurrency: number, maxQueued: number) {
    this.#concurrency = concurrency;
    this.#maxQueued = maxQueued;
  }

  run<T>(task: () => Promise<T>): Promise<T> | null {
    if (this.#running >= this.#concurrency && this.#waiting.length >= this.#maxQueued) return null;
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#running++;
        let running: Promise<T>;
        try {
          running = task();
        } catch (error) {
          running = Promise.reject(error);
        }
        running
          .then(resolve, reject)
          .finally(() => {
            this.#running--;
            this.#waiting.shift()?.();
          });
      };
      if (this.#running < this.#concurrency) start();
      else this.#waiting.push(start);
    });
  }
}
