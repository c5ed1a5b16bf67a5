/**
 * The validated, JSON-safe form of the configuration.
 *
 * The master builds a `ServePlan` once per (re)load and hands it to every worker of
 * the generation over IPC; workers compile it into their runtime request path.
 * All paths in a plan are absolute; all durations are milliseconds; all sizes bytes.
 */
import type { DdnsPlan } from '../ddns/plan.ts';
import type { RelayPlan } from '../relay/plan.ts';
import type { LoadBalancing, LogLevel } from './types.ts';

export interface ServePlan {
  /** Absolute path of the config file, or null for `kirin serve app.ts`. */
  configFile: string | null;
  /** The folder relative paths in the config are resolved against. */
  baseDir: string;
  workers: number;
  listen: ListenPlan;
  envFiles: string[];
  trustedProxies: string[];
  stateDir: string;
  pidFile: string | null;
  timeoutMs: number;
  gracefulTimeoutMs: number;
  /** Socket.IO sessions stick to their worker and broadcasts cross workers. */
  sticky: boolean;
  maxRequests: number;
  maxRequestsJitter: number;
  maxMemoryBytes: number;
  limits: LimitsPlan;
  /** '-' for stdout, an absolute file path, or null for off. */
  accessLog: string | null;
  logLevel: LogLevel;
  services: Record<string, ServicePlan>;
  sites: SitePlan[];
  tls: TlsPlan;
  admin: AdminPlan | null;
  notify: NotifyPlan;
  ddns: DdnsPlan | null;
  /** The relay role (a VPS forwarding whole connections home), or null; see src/relay/plan.ts. */
  relay: RelayPlan | null;
  /** `kirin dev` (src/dev/): the worker reports what it loads and shows the error page; null under `kirin serve`. */
  dev: DevPlan | null;
}

/** What `kirin dev` turns on in its workers; never set from a config file. */
export interface DevPlan {
  /** Inject the script that reloads HTML pages after a restart (off with --no-reload-browser). */
  reloadBrowser: boolean;
}

export interface ListenAddress {
  kind: 'tcp' | 'unix' | 'fd';
  /** For tcp: an IP address ('' for all addresses). */
  host: string;
  port: number;
  /** For unix: the absolute socket path. */
  path: string;
  /** For fd (systemd socket activation): the inherited descriptor. */
  fd: number;
  /** What the user wrote, for messages. */
  spec: string;
  /** Every connection starts with a PROXY protocol v2 header, accepted only from trustedProxies (src/relay/proxy-listener.ts). */
  proxyProtocol?: true;
}

export interface ListenPlan {
  http: ListenAddress[];
  https: ListenAddress[];
}

export interface LimitsPlan {
  headerTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** An HTTP/2 stream whose response makes no progress for this long (the client's window stays shut) is reset; 0: never. */
  sendTimeoutMs: number;
  maxHeaderSize: number;
  maxHeaders: number;
  maxBodyBytes: number;
}

export interface ServicePlan {
  name: string;
  command: string;
  cwd: string;
  env: Record<string, string>;
  /** The unix socket path behind `{socket}`, when the command uses it. */
  socket: string | null;
  /** The loopback port behind `{port}` (chosen by the master when the service starts), or 0. */
  port: number;
  usesPort: boolean;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
}

export interface SitePlan {
  /** The key as written, e.g. 'blog.example.test, www.blog.example.test'. */
  key: string;
  /** Lower-case host names; '*.example.test' matches one label; '*' matches any host. */
  hosts: string[];
  tls: SiteTlsPlan;
  /** Whether `tls` was written in the config (not a default). */
  tlsExplicit: boolean;
  /** Seconds for Strict-Transport-Security, or 0 for none. */
  hstsSeconds: number;
  headers: HeadersPlan | null;
  routes: RoutePlan[];
}

export type SiteTlsPlan =
  | { mode: 'off' }
  | { mode: 'auto' }
  | { mode: 'local' }
  | { mode: 'files'; cert: string; key: string };

export interface RoutePlan {
  /** The path prefix, e.g. '/static/'. */
  prefix: string;
  /** Where this route sits in the config, for messages: sites["a.test"]["/static/"]. */
  at: string;
  handler: HandlerPlan;
  middleware: MiddlewarePlan;
  /** Limits on WebSockets opened to this route (apps only; normalize-websocket.ts). */
  websocket: WebSocketPlan;
}

export interface WebSocketPlan {
  /** Largest message a client may send, in bytes on the wire (all frames of it); over → close 1009. */
  maxMessageBytes: number;
  /** A client silent this long (it sent nothing, not even a pong to Kirin's ping) is closed with 1001; 0 = never. */
  idleTimeoutMs: number;
  /** Open WebSockets on this route per worker; one more is closed with 1013 (try again later). */
  maxConnections: number;
  /** Origins allowed to open a WebSocket: null = same origin as the Host (or no Origin), '*' = any, else exact origins. */
  origins: readonly string[] | '*' | null;
}

export type HandlerPlan = AppHandlerPlan | StaticHandlerPlan | ProxyHandlerPlan | RedirectHandlerPlan | RespondHandlerPlan;

export interface AppHandlerPlan {
  type: 'app';
  /** Absolute module path. */
  module: string;
  /** Export name; 'default' unless given as 'path:name'. */
  exportName: string;
}

export interface StaticHandlerPlan {
  type: 'static';
  root: string;
  immutable: boolean;
  /** Absolute-in-root path of the SPA fallback file (e.g. '/index.html'), or null. */
  spa: string | null;
  index: string[];
  cacheControl: string;
}

export interface ProxyHandlerPlan {
  type: 'proxy';
  /** Upstream URLs; for a service, filled in by the master with its socket or port. */
  to: string[];
  service: string | null;
  lb: LoadBalancing;
  health: HealthCheckPlan | null;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  retries: number;
  maxFails: number;
  failTimeoutMs: number;
  preserveHost: boolean;
}

export interface HealthCheckPlan {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Inclusive status range counted healthy. */
  expectMin: number;
  expectMax: number;
}

export interface RedirectHandlerPlan {
  type: 'redirect';
  to: string;
  status: number;
}

export interface RespondHandlerPlan {
  type: 'respond';
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface MiddlewarePlan {
  allow: string[] | null;
  deny: string[] | null;
  auth: { users: Record<string, string>; realm: string } | null;
  rateLimit: { perSecond: number; burst: number } | null;
  headers: HeadersPlan | null;
  compress: { types: string[]; minSize: number } | null;
  /** Bytes; always set (the global limit when the route gives none). */
  maxBodyBytes: number;
  /** The prefix removed before the handler sees the path, or null. */
  stripPrefix: string | null;
}

export interface HeadersPlan {
  request: HeaderRulesPlan | null;
  response: HeaderRulesPlan | null;
}

export interface HeaderRulesPlan {
  /** Lower-case names. */
  set: Record<string, string>;
  remove: string[];
}

export interface TlsPlan {
  email: string | null;
  acmeDirectory: string;
  caBundle: string | null;
  storage: string;
}

export interface AdminPlan {
  listen: ListenAddress;
  token: string | null;
}

export interface NotifyPlan {
  email: { url: string; from: string; to: string[] } | null;
  webhook: string | null;
}
