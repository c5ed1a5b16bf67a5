/**
 * A constant-load generator in plain Node that counts every failure — the
 * proof behind "a reload loses nothing". Benches and tests use it alike
 * (test/e2e/reload.test.ts imports it), so it depends on nothing but node:http.
 *
 * `concurrency` loops each send one request after another: over a keep-alive
 * http.Agent (maxSockets = concurrency, so one connection per loop), or with
 * `Connection: close` and a new connection per request. Each request ends in
 * exactly one outcome: a 2xx with the expected body, or a failure counted by
 * kind — a non-2xx status, a connection reset (including "socket hang up" and
 * a body cut short), a refused connection, a timeout, or anything else.
 * Nothing is retried: a retry would hide exactly what we measure.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export interface LoadOptions {
  /** http://host:port/path */
  url: string;
  /** Requests in flight at once (default 20). */
  concurrency?: number;
  /** 'keep-alive' (default): one reused connection per loop; 'close': a new connection per request. */
  connection?: 'keep-alive' | 'close';
  /** A request without a complete response after this long is a timeout (default 10 s). */
  timeoutMs?: number;
  /** A 2xx whose body differs from this is a failure (default: any body). */
  expectBody?: string;
  /** Count responses (and new connections) by this response header, e.g. a worker's pid. */
  countHeader?: string;
  /** Pause between one loop's requests (default 0: as fast as the server answers). */
  pauseMs?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export interface LoadReport {
  /** Requests finished, either way. */
  requests: number;
  ok: number;
  /** Everything that was not ok: the sum of the counts below. */
  failures: number;
  non2xx: number;
  /** Non-2xx responses by status. */
  statuses: Record<string, number>;
  /** ECONNRESET, EPIPE, "socket hang up", a response body cut short. */
  resets: number;
  /** ECONNREFUSED. */
  refused: number;
  timeouts: number;
  /** 2xx with a body other than `expectBody`. */
  badBodies: number;
  otherErrors: number;
  /** The first failures, described. */
  samples: string[];
  /** Connections opened. */
  connections: number;
  /** Responses by the value of `countHeader`. */
  byHeader: Record<string, number>;
  /** Connections by the value of `countHeader` in their first response. */
  connectionsByHeader: Record<string, number>;
  durationMs: number;
  requestsPerSec: number;
}

export interface LoadRun {
  /** The counts so far (load keeps running). */
  snapshot(): LoadReport;
  /** Resolves once `requests` have finished since the start (successfully or not). */
  waitForRequests(requests: number, timeoutMs?: number): Promise<LoadReport>;
  /** Lets every in-flight request finish, stops, and returns the final counts. */
  stop(): Promise<LoadReport>;
}

const MAX_SAMPLES = 10;

type Outcome = 'ok' | 'non2xx' | 'resets' | 'refused' | 'timeouts' | 'badBodies' | 'otherErrors';

export function startLoad(options: LoadOptions): LoadRun {
  const url = new URL(options.url);
  const concurrency = options.concurrency ?? 20;
  const keepAlive = (options.connection ?? 'keep-alive') === 'keep-alive';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const countHeader = options.countHeader?.toLowerCase();
  const agent = new Agent({ keepAlive, maxSockets: concurrency, maxFreeSockets: concurrency });
  const headers: Record<string, string> = { ...options.headers, connection: keepAlive ? 'keep-alive' : 'close' };
  const target = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    path: `${url.pathname}${url.search}`,
    method: 'GET',
    headers,
    agent,
  };
  const started = performance.now();
  let stoppedAt = 0;
  let stopping = false;
  const report: LoadReport = {
    requests: 0,
    ok: 0,
    failures: 0,
    non2xx: 0,
    statuses: {},
    resets: 0,
    refused: 0,
    timeouts: 0,
    badBodies: 0,
    otherErrors: 0,
    samples: [],
    connections: 0,
    byHeader: {},
    connectionsByHeader: {},
    durationMs: 0,
    requestsPerSec: 0,
  };
  const seenSockets = new WeakSet<Socket>();
  const progressWaiters = new Set<() => void>();

  function record(outcome: Outcome, detail: string | null): void {
    report.requests++;
    report[outcome]++;
    if (outcome !== 'ok') {
      report.failures++;
      if (report.samples.length < MAX_SAMPLES && detail) report.samples.push(detail);
    }
    for (const wake of progressWaiters) wake();
  }

  function countBy(res: IncomingMessage, newConnection: boolean): void {
    if (!countHeader) return;
    const raw = res.headers[countHeader];
    const value = (Array.isArray(raw) ? raw[0] : raw) ?? '(none)';
    report.byHeader[value] = (report.byHeader[value] ?? 0) + 1;
    if (newConnection) report.connectionsByHeader[value] = (report.connectionsByHeader[value] ?? 0) + 1;
  }

  function once(): Promise<void> {
    return new Promise((resolve) => {
      let finished = false;
      let newConnection = false;
      const finish = (outcome: Outcome, detail: string | null) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        record(outcome, detail);
        resolve();
      };
      const req = request(target, (res) => {
        const status = res.statusCode ?? 0;
        countBy(res, newConnection);
        const chunks: Buffer[] = [];
        if (options.expectBody !== undefined) res.on('data', (chunk: Buffer) => chunks.push(chunk));
        else res.resume();
        res.once('end', () => {
          if (status < 200 || status > 299) {
            report.statuses[status] = (report.statuses[status] ?? 0) + 1;
            finish('non2xx', `HTTP ${status}`);
          } else if (options.expectBody !== undefined && Buffer.concat(chunks).toString('utf8') !== options.expectBody) {
            finish('badBodies', `HTTP ${status} with an unexpected body: ${JSON.stringify(Buffer.concat(chunks).toString('utf8').slice(0, 80))}`);
          } else finish('ok', null);
        });
        res.once('aborted', () => finish('resets', 'response cut short (aborted)'));
        res.once('error', (error: NodeJS.ErrnoException) => finish(classify(error), describe(error)));
      });
      req.once('socket', (socket: Socket) => {
        if (!seenSockets.has(socket)) {
          seenSockets.add(socket);
          newConnection = true;
          report.connections++;
        }
      });
      const timer = setTimeout(() => {
        const error = new Error(`no complete response within ${timeoutMs} ms`) as NodeJS.ErrnoException;
        error.code = 'LOAD_TIMEOUT';
        req.destroy(error);
        // Once a response has begun, destroying the request may emit nothing: settle here.
        finish('timeouts', describe(error));
      }, timeoutMs);
      req.once('error', (error: NodeJS.ErrnoException) => finish(classify(error), describe(error)));
      req.end();
    });
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      await once();
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  }

  const loops = Array.from({ length: concurrency }, () => loop());

  function snapshot(): LoadReport {
    const durationMs = (stoppedAt || performance.now()) - started;
    return {
      ...report,
      statuses: { ...report.statuses },
      samples: [...report.samples],
      byHeader: { ...report.byHeader },
      connectionsByHeader: { ...report.connectionsByHeader },
      durationMs,
      requestsPerSec: durationMs > 0 ? (report.requests * 1000) / durationMs : 0,
    };
  }

  return {
    snapshot,
    waitForRequests(requests, waitMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (report.requests < requests) return;
          done();
          resolve(snapshot());
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`load: only ${report.requests} of ${requests} requests finished within ${waitMs} ms; ${describeLoad(snapshot())}`));
        }, waitMs);
        const done = () => {
          clearTimeout(timer);
          progressWaiters.delete(check);
        };
        progressWaiters.add(check);
        check();
      });
    },
    async stop() {
      stopping = true;
      await Promise.all(loops);
      stoppedAt = performance.now();
      agent.destroy();
      return snapshot();
    },
  };
}

function classify(error: NodeJS.ErrnoException): Outcome {
  switch (error.code) {
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return 'resets';
    case 'ECONNREFUSED':
      return 'refused';
    case 'LOAD_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeouts';
    default:
      return 'otherErrors';
  }
}

function describe(error: NodeJS.ErrnoException): string {
  return error.code ? `${error.code}: ${error.message}` : error.message;
}

/** One line: "12034 requests, 0 failures (non-2xx 0, resets 0, refused 0, timeouts 0, other 0)". */
export function describeLoad(report: LoadReport): string {
  const statuses = Object.entries(report.statuses)
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');
  const parts = [
    `${report.requests} requests over ${report.connections} connections in ${(report.durationMs / 1000).toFixed(1)} s (${Math.round(report.requestsPerSec)}/s)`,
    `${report.failures} failures (non-2xx ${report.non2xx}${statuses ? ` [${statuses}]` : ''}, resets ${report.resets}, refused ${report.refused}, timeouts ${report.timeouts}, bad bodies ${report.badBodies}, other ${report.otherErrors})`,
  ];
  if (report.samples.length > 0) parts.push(`first failures: ${report.samples.join('; ')}`);
  return parts.join('; ');
}
