/**
 * The admin listener: a small HTTP server in the master, apart from the sites.
 *
 *   GET /healthz       200 when the master and a worker serve, else 503   (open: probes)
 *   GET /readyz        200 when ready, else 503 with the reasons          (open: probes)
 *   GET /metrics       Prometheus text format                              (token)
 *   GET /api/status    the dashboard's JSON                                (token)
 *   GET /              the dashboard                                       (token, or login form)
 *
 * Read-only: nothing here changes what Kirin does, so there is no CSRF to
 * guard against. It never takes the site down: when its address is taken it
 * logs a warning and Kirin serves without it.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from '../util/node-http.ts';
import type { AddressInfo } from 'node:net';
import type { AdminPlan, ListenAddress } from '../config/plan.ts';
import { isAlive } from '../master/control.ts';
import type { Logger } from './log.ts';
import { isAuthorized, isLocalHost, sameSecret, sessionCookie } from './admin-auth.ts';
import type { HealthAnswer } from './health.ts';

type DashboardAssets = typeof import('./dashboard/assets.ts');

/** What the listener serves; the observability wiring provides it. */
export interface AdminEndpoints {
  health(): HealthAnswer;
  readiness(): HealthAnswer;
  metrics(): string;
  status(): unknown;
}

let dashboard: Promise<DashboardAssets> | null = null;
/** The page, styles and script, loaded by the first request that needs them (docs/benchmarks.md, memory part 3). */
const dashboardAssets = (): Promise<DashboardAssets> => (dashboard ??= import('./dashboard/assets.ts'));
const MAX_LOGIN_BODY = 4096;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export class AdminServer {
  readonly #endpoints: AdminEndpoints;
  readonly #logger: Logger;
  #server: Server | null = null;
  #plan: AdminPlan | null = null;
  /** Where it listens, e.g. http://127.0.0.1:9180, or '' when not listening. */
  url = '';

  constructor(endpoints: AdminEndpoints, logger: Logger) {
    this.#endpoints = endpoints;
    this.#logger = logger;
  }

  /**
   * Listens where the plan says. Resolves true when listening; false (with a
   * warning) when the address cannot be used — Kirin goes on serving its sites.
   */
  async start(plan: AdminPlan): Promise<boolean> {
    this.#plan = plan;
    const address = plan.listen;
    if (address.kind === 'fd') {
      this.#logger.warn(`admin listener: ${address.spec} is a socket-activation descriptor, which the admin listener cannot use; set admin.listen to an address such as '127.0.0.1:9180'. Health, metrics and the dashboard are off.`);
      return false;
    }
    const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => this.#handle(req, res));
    server.on('clientError', (_error, socket) => socket.destroy());
    try {
      if (address.kind === 'unix') await removeStaleSocket(address.path);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const ready = () => {
          server.off('error', reject);
          resolve();
        };
        if (address.kind === 'unix') server.listen(address.path, ready);
        else server.listen({ host: address.host || undefined, port: address.port }, ready);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? 'is already in use (another Kirin, or another program?)' : code === 'EACCES' ? 'is not allowed for this user' : `cannot be used (${(error as Error).message})`;
      this.#logger.warn(
        { admin: address.spec, code },
        `admin listener: ${address.spec} ${why}. Kirin serves its sites without health checks, metrics and dashboard; set admin.listen to a free address (or admin: false) and reload.`,
      );
      return false;
    }
    // Only the user running Kirin may talk to a unix admin socket.
    if (address.kind === 'unix') chmodSync(address.path, 0o600);
    server.unref();
    this.#server = server;
    this.url = describeAddress(address, server.address());
    this.#logger.info({ admin: this.url }, `admin listener on ${this.url}: /healthz /readyz /metrics and the dashboard at /`);
    return true;
  }

  /** After a reload: follows a new token at once, a new address by listening again. */
  async update(plan: AdminPlan | null): Promise<void> {
    const before = this.#plan;
    if (plan !== null && before !== null && this.#server !== null && sameAddress(plan.listen, before.listen)) {
      this.#plan = plan;
      return;
    }
    await this.close();
    if (plan !== null) await this.start(plan);
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.url = '';
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.#route(req, res).catch((error: unknown) => {
      this.#logger.error({ err: error, path: req.url }, 'admin listener: request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = this.#plan?.token ?? null;
    if (token === null && !isLocalHost(req.headers.host)) {
      // Without a token the listener is loopback-only; a foreign Host means a browser was pointed here by someone else's DNS.
      return send(res, 403, 'text/plain; charset=utf-8', 'admin listener: only reachable as localhost or by IP address without admin.token\n');
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (path === '/login') {
      if (method !== 'POST') return redirect(res, './');
      if (token === null) return redirect(res, './');
      return this.#login(req, res, token, await dashboardAssets());
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'admin listener: read-only, use GET\n');
    }
    switch (path) {
      case '/healthz':
        return sendHealth(res, this.#endpoints.health());
      case '/readyz':
        return sendHealth(res, this.#endpoints.readiness());
      case '/dashboard.css':
        return send(res, 200, 'text/css; charset=utf-8', (await dashboardAssets()).DASHBOARD_CSS);
      case '/dashboard.js':
        return send(res, 200, 'text/javascript; charset=utf-8', (await dashboardAssets()).DASHBOARD_JS);
    }
    const authorized = isAuthorized(req, token);
    switch (path) {
      case '/': {
        const { DASHBOARD_HTML, LOGIN_HTML } = await dashboardAssets();
        return authorized ? send(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML) : send(res, 401, 'text/html; charset=utf-8', LOGIN_HTML(''));
      }
      case '/metrics':
        if (!authorized) return unauthorized(res);
        return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', this.#endpoints.metrics());
      case '/api/status':
        if (!authorized) return unauthorized(res);
        return send(res, 200, 'application/json; charset=utf-8', JSON.stringify(this.#endpoints.status()));
      default:
        return send(res, 404, 'text/plain; charset=utf-8', `admin listener: no ${path} here; try /, /healthz, /readyz, /metrics or /api/status\n`);
    }
  }

  #login(req: IncomingMessage, res: ServerResponse, token: string, { LOGIN_HTML }: DashboardAssets): void {
    let body = '';
    let tooLarge = false;
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_LOGIN_BODY) {
        tooLarge = true;
        req.destroy();
      }
    });
    req.on('end', () => {
      if (tooLarge) return;
      const given = new URLSearchParams(body).get('token') ?? '';
      if (!sameSecret(given, token)) {
        this.#logger.warn({ client: req.socket.remoteAddress }, 'admin listener: a sign-in with a wrong token');
        return send(res, 401, 'text/html; charset=utf-8', LOGIN_HTML('That token is not the one in admin.token.'));
      }
      const secure = req.headers['x-forwarded-proto'] === 'https';
      res.setHeader('set-cookie', sessionCookie(token, secure));
      redirect(res, './');
    });
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  const headers: Record<string, string | number> = { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) };
  res.writeHead(status, headers);
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

function sendHealth(res: ServerResponse, answer: HealthAnswer): void {
  send(res, answer.ok ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify(answer.ok ? { ok: true } : { ok: false, reasons: answer.reasons })}\n`);
}

function unauthorized(res: ServerResponse): void {
  res.setHeader('www-authenticate', 'Bearer realm="kirin admin"');
  send(res, 401, 'text/plain; charset=utf-8', 'admin listener: send Authorization: Bearer <admin.token>\n');
}

function redirect(res: ServerResponse, location: string): void {
  res.setHeader('location', location);
  send(res, 303, 'text/plain; charset=utf-8', '');
}

/** A socket file left by a Kirin that was killed; a live one is left alone (listen then fails with EADDRINUSE). */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path) || !lstatSync(path).isSocket() || (await isAlive(path))) return;
  unlinkSync(path);
}

function describeAddress(address: ListenAddress, bound: string | AddressInfo | null): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  const info = bound as AddressInfo;
  const host = address.host || (info.family === 'IPv6' ? '::' : '0.0.0.0');
  return `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`;
}

function sameAddress(a: ListenAddress, b: ListenAddress): boolean {
  return a.kind === b.kind && a.host === b.host && a.port === b.port && a.path === b.path;
}
