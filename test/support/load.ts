/**
 * A load generator that counts every failure: non-2xx answers, resets,
 * refused connections, timeouts. Used by the zero-downtime tests.
 */
import { Agent, request } from 'node:http';

export interface LoadOptions {
  url: string;
  /** Concurrent requests in flight. */
  concurrency: number;
  /** Keep-alive connections (true) or a new connection per request with `Connection: close`. */
  keepAlive: boolean;
  /** Per-request timeout. */
  timeoutMs?: number;
}

export interface LoadResult {
  ok: number;
  non2xx: number;
  errors: Record<string, number>;
  /** Distinct worker PIDs seen in the `x-worker-pid` response header, with counts. */
  pids: Record<string, number>;
  total: number;
  failures: number;
}

export class LoadGenerator {
  readonly #options: LoadOptions;
  readonly #agent: Agent;
  #running = false;
  #loops: Promise<void>[] = [];
  readonly result: LoadResult = { ok: 0, non2xx: 0, errors: {}, pids: {}, total: 0, failures: 0 };

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#agent = new Agent({ keepAlive: options.keepAlive, maxSockets: options.concurrency });
  }

  start(): void {
    this.#running = true;
    for (let i = 0; i < this.#options.concurrency; i++) this.#loops.push(this.#loop());
  }

  async stop(): Promise<LoadResult> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#agent.destroy();
    return this.result;
  }

  async #loop(): Promise<void> {
    while (this.#running) await this.#one();
  }

  #one(): Promise<void> {
    const { url, keepAlive, timeoutMs = 10_000 } = this.#options;
    const result = this.result;
    return new Promise((done) => {
      let settled = false;
      const resolve = () => {
        settled = true;
        done();
      };
      const req = request(url, { agent: this.#agent, headers: keepAlive ? {} : { connection: 'close' }, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => {
          if (settled) return;
          result.total++;
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) result.ok++;
          else {
            result.non2xx++;
            result.failures++;
            result.errors[`status ${status}`] = (result.errors[`status ${status}`] ?? 0) + 1;
          }
          const pid = res.headers['x-worker-pid'];
          if (typeof pid === 'string') result.pids[pid] = (result.pids[pid] ?? 0) + 1;
          resolve();
        });
        res.on('error', (error: NodeJS.ErrnoException) => fail(error));
      });
      const fail = (error: NodeJS.ErrnoException) => {
        if (settled) return;
        result.total++;
        result.failures++;
        const key = error.code ?? error.message;
        result.errors[key] = (result.errors[key] ?? 0) + 1;
        resolve();
      };
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', fail);
      req.end();
    });
  }
}
