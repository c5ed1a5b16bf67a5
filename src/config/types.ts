/**
 * The shape of `kirin.config.ts` — the one file a user writes.
 *
 * These types are the documented configuration (see docs/config.md). They describe
 * what a person types; `normalizeConfig` turns them into a validated, JSON-safe
 * `ServePlan` (src/config/plan.ts) that the master and the workers run from.
 */
import type { ListenEntry, RelayConfig } from '../relay/config-types.ts';
import type { Duration, Size } from './units.ts';

export type { ListenEntry, RelayConfig };

export type { Duration, Size };

export interface KirinConfig {
  /** Worker processes. Default: `WEB_CONCURRENCY`, else the number of CPUs. */
  workers?: number;
  /** Where to listen. Default: `http: ['127.0.0.1:8000']` (`PORT` honoured); with TLS sites `:80` and `:443`. */
  listen?: ListenConfig;
  /** `.env` files loaded for the app and services. They never override variables already set. */
  envFiles?: string[];
  /** Peers whose X-Forwarded-* / Forwarded headers are believed (IPs or CIDRs). Default: none. */
  trustedProxies?: string[];
  /** Kirin's state folder: control socket, certificates, locks. */
  stateDir?: string;
  /** PID file written by the master. */
  pidFile?: string;

  /** Kill a worker whose event loop is blocked this long. Default 30 s. */
  timeout?: Duration;
  /** How long a stop or reload waits for in-flight requests. Default 30 s. */
  gracefulTimeout?: Duration;
  /** Socket.IO across workers: a session's requests reach the worker that holds it, broadcasts reach every worker (docs/app-server.md, "Socket.IO"). */
  sticky?: boolean;
  /** Recycle a worker after this many requests (plus jitter). Default: never. */
  maxRequests?: number;
  /** Random extra requests added to `maxRequests` per worker, so workers do not all recycle at once. */
  maxRequestsJitter?: number;
  /** Recycle a worker whose resident memory exceeds this. */
  maxMemory?: Size;

  /** Connection and request limits. */
  limits?: LimitsConfig;

  /** Access log: `'-'` (stdout), a file path, or `'off'`/`false`. Default `'-'`. */
  accessLog?: string | false;
  /** Error log level. Default `'info'`. */
  logLevel?: LogLevel;

  /** Other programs Kirin runs and restarts next to the workers (gunicorn, a queue worker …). */
  services?: Record<string, ServiceConfig>;
  /** Sites by host name: `'example.com, www.example.com': { '/': { app: './app.ts' } }`. */
  sites?: Record<string, SiteConfig>;

  /** Certificates: ACME account, CA and storage. */
  tls?: TlsConfig;
  /** The admin listener: health, metrics, dashboard. `false` turns it off. */
  admin?: AdminConfig | false;
  /** Where alerts go. */
  notify?: NotifyConfig;
  /** Keep the sites' names pointed at this machine's public address (docs/ddns.md). */
  ddns?: DdnsConfig;
  /** `kirin deploy`: hosts, path, hooks … (docs/deploy.md). */
  deploy?: import('../deploy/config.ts').DeployConfig;
  /** Run as a relay (on a VPS): forward every connection on the public ports to a home server (docs/relay.md). */
  relay?: RelayConfig;
}

export type { DdnsConfig } from '../ddns/config-types.ts';
import type { DdnsConfig } from '../ddns/config-types.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ListenConfig {
  /** Plain HTTP listeners: `'127.0.0.1:8080'`, `'[::1]:8080'`, `':80'`, `'unix:/run/kirin.sock'`, or `{ address, proxyProtocol }`. */
  http?: (string | ListenEntry)[];
  /** TLS listeners (HTTP/1.1 and HTTP/2). */
  https?: (string | ListenEntry)[];
}

export interface LimitsConfig {
  /** Time allowed to receive the request headers (slowloris). Default 10 s. */
  headerTimeout?: Duration;
  /** Time allowed to receive the whole request. Default 60 s. */
  requestTimeout?: Duration;
  /** Time an idle keep-alive connection is kept open. Default 5 s. */
  keepAliveTimeout?: Duration;
  /** Time an HTTP/2 response may make no progress (a client that opens no flow-control window) before its stream is reset. Default 60 s (nginx's send_timeout). */
  sendTimeout?: Duration;
  /** Largest request head (request line and headers). Default 16 KiB. */
  maxHeaderSize?: Size;
  /** Most header fields in one request. Default 100. */
  maxHeaders?: number;
  /** Largest request body for every route, unless a route says otherwise. Default 10 MiB. */
  maxBody?: Size;
}

export interface ServiceConfig {
  /** The command line. `{socket}` becomes a unix socket path Kirin allocates; `{port}` a free loopback port. */
  command: string;
  /** Working folder, relative to the config file. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** How long to wait for `{socket}`/`{port}` to accept connections at start. Default 30 s. */
  readyTimeout?: Duration;
  /** Grace period between SIGTERM and SIGKILL on stop. Default 10 s. */
  stopTimeout?: Duration;
}

/**
 * A site: keys that start with `/` are routes (path prefixes, the longest wins);
 * the other keys are site options.
 */
export type SiteConfig = SiteOptions & { [path: `/${string}`]: RouteConfig };

export interface SiteOptions {
  /** Request and response headers for every route of the site. */
  headers?: HeadersConfig;
  /** `'auto'` (ACME), `'local'` (Kirin's own CA), `'off'`, or certificate files. */
  tls?: 'auto' | 'local' | 'off' | { cert: string; key: string };
  /** Strict-Transport-Security: on for TLS sites (2 years), a number of seconds, or `false`. */
  hsts?: boolean | number;
}

export type RouteConfig = HandlerConfig & MiddlewareConfig;

export type HandlerConfig = AppRoute | StaticRoute | ProxyRoute | RedirectRoute | RespondRoute;

export interface AppRoute {
  /** A module path, optionally with an export name: `'./app.ts'`, `'./server.js:handler'`. */
  app: string;
  /** Limits on the app's WebSockets (docs/app-server.md). */
  websocket?: WebSocketConfig;
}

export interface WebSocketConfig {
  /** Largest message a client may send (default '1mb'); over → close 1009. */
  maxMessage?: Size;
  /** Close a client silent this long, pings included (default '60s'; 0 = never); Kirin pings at half of it. */
  idleTimeout?: Duration;
  /** Open WebSockets on the route per worker (default 10000); over → close 1013. */
  maxConnections?: number;
  /** Pages allowed to open WebSockets: '*' or origins like 'https://example.com'. Default: the same origin only. */
  origins?: '*' | string[];
}

export interface StaticRoute {
  /** The folder served, relative to the config file. */
  static: string;
  /** Hashed file names: `Cache-Control: public, max-age=31536000, immutable`. */
  immutable?: boolean;
  /** Serve this file (default `index.html`) for paths that match no file (single-page apps). */
  spa?: boolean | string;
  /** Index files for folders. Default `['index.html']`; `false` turns them off. */
  index?: string[] | false;
  /** `Cache-Control` for files that are not immutable. Default `'public, max-age=0, must-revalidate'`. */
  cacheControl?: string;
}

export interface ProxyRoute {
  /** An upstream URL, or the full options. */
  proxy: string | ProxyOptions;
}

export type LoadBalancing = 'round_robin' | 'least_conn' | 'ip_hash' | 'random';

export interface ProxyOptions {
  /** Upstream URLs: `'http://127.0.0.1:9001'`, `'http://unix:/run/app.sock'`. */
  to?: string | string[];
  /** A service from `services` whose `{socket}` or `{port}` is the upstream. */
  service?: string;
  /** How requests are spread over `to`. Default `'round_robin'`. */
  lb?: LoadBalancing;
  /** Active health check: a path, or options. */
  health?: string | HealthCheckConfig;
  /** Time to open a connection to an upstream. Default 5 s. */
  connectTimeout?: Duration;
  /** Time to wait for the upstream's response headers. Default 60 s. */
  responseTimeout?: Duration;
  /** Retries of idempotent requests on another upstream when connecting fails. Default 2. */
  retries?: number;
  /** Passive health: failures in a row that take an upstream out. Default 3. */
  maxFails?: number;
  /** How long an upstream stays out after `maxFails`. Default 10 s. */
  failTimeout?: Duration;
  /** Send the client's Host header upstream (default) or the upstream's own. */
  preserveHost?: boolean;
}

export interface HealthCheckConfig {
  path: string;
  interval?: Duration;
  timeout?: Duration;
  /** Expected status range, e.g. `'2xx'`. Default: any status below 400. */
  expect?: string;
}

export interface RedirectRoute {
  /** A target URL or path; `{path}` and `{query}` are replaced. */
  redirect: string | { to: string; status?: 301 | 302 | 303 | 307 | 308 };
}

export interface RespondRoute {
  /** A fixed response: a body, or status, body and headers. */
  respond: string | { status?: number; body?: string; headers?: Record<string, string> };
}

export interface MiddlewareConfig {
  /** Only these client addresses (IPs or CIDRs, v4 and v6) may use the route. */
  allow?: string[];
  /** These client addresses get 403. */
  deny?: string[];
  /** Basic auth: user name → bcrypt or argon2 hash (`kirin hash-password`). */
  auth?: BasicAuthConfig;
  /** Requests per client IP, shared across workers; 429 with Retry-After beyond it. `'10/s'` is `{ rate: '10/s' }`. */
  rateLimit?: RateLimitConfig | string | number;
  /** Request and response headers. */
  headers?: HeadersConfig;
  /** br/gzip for compressible responses. Default off for apps and proxies. */
  compress?: boolean | { types?: string[]; minSize?: Size };
  /** Largest request body for this route (413 beyond it). */
  maxBody?: Size;
  /** Remove the route's prefix before the handler sees the path: `true` or a prefix. */
  stripPrefix?: boolean | string;
}

export interface BasicAuthConfig {
  users: Record<string, string>;
  realm?: string;
}

export interface RateLimitConfig {
  /** Requests per window: `'100/s'`, `'600/m'`, `'10000/h'`, or a number (per second). */
  rate: string | number;
  /** Requests allowed at once above the steady rate. Default: the rate per second. */
  burst?: number;
}

export interface HeadersConfig {
  request?: HeaderRules;
  response?: HeaderRules;
}

export interface HeaderRules {
  set?: Record<string, string>;
  remove?: string[];
}

export interface TlsConfig {
  /** The ACME account e-mail (expiry warnings from the CA). */
  email?: string;
  /** `'letsencrypt'` (default), `'letsencrypt-staging'` or a directory URL. */
  acme?: string;
  /** A PEM file of extra CA certificates to trust when talking to the ACME server. */
  caBundle?: string;
  /** Where certificates and the ACME account live. Default: `<stateDir>/tls`. */
  storage?: string;
}

export interface AdminConfig {
  /** Default `'127.0.0.1:9180'`. */
  listen?: string;
  /** Bearer token; required when `listen` is not loopback. */
  token?: string;
}

export interface NotifyConfig {
  email?: { url: string; from: string; to: string[] };
  webhook?: string;
}

/** Identity helper that gives `kirin.config.ts` full types. */
export function defineConfig(config: KirinConfig): KirinConfig {
  return config;
}
