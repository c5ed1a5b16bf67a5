/**
 * From what the user wrote (kirin.config.ts, command-line flags, environment)
 * to a validated ServePlan. Every problem is reported with the file and the key
 * path; nothing is guessed silently.
 */
import { LOG_LEVELS } from './log-levels.ts';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { normalizeDdns } from '../ddns/normalize.ts';
import { parseCidr } from '../net/ip.ts';
import {
  checkKeys,
  ConfigPath,
  isPlainObject,
  Issues,
  readBoolean,
  readDuration,
  readEnum,
  readInteger,
  readSize,
  readString,
  readStringArray,
  readStringRecord,
} from './issues.ts';
import { normalizeSites, parseAppSpec } from './normalize-routes.ts';
import { parseListenAddress } from './listen-address.ts';
import type { ListenAddress, ServePlan, ServicePlan, SitePlan } from './plan.ts';
import { flagSetting, keyAndFlag } from './serve-flags.ts';
import { socketPathTooLong } from './service-socket.ts';
import { defaultStateDir } from './state-dir.ts';
import { DEFAULT_WEBSOCKET } from './normalize-websocket.ts';
import { checkProxyListeners, checkRelayRole, normalizeRelay, readListenEntries } from '../relay/normalize.ts';

const TOP_LEVEL_KEYS = [
  'workers',
  'listen',
  'envFiles',
  'trustedProxies',
  'stateDir',
  'pidFile',
  'timeout',
  'gracefulTimeout',
  'sticky',
  'maxRequests',
  'maxRequestsJitter',
  'maxMemory',
  'limits',
  'accessLog',
  'logLevel',
  'services',
  'sites',
  'tls',
  'admin',
  'notify',
  'ddns',
  'deploy', // read by the deploy commands (src/deploy/config.ts)
  'relay',
] as const;


export interface NormalizeInput {
  /** The config object (from the file), or {} when there is none. */
  raw: unknown;
  /** The config file's absolute path, or null. */
  file: string | null;
  /** The folder to resolve relative paths against when there is no file. */
  cwd: string;
  /** `kirin serve PATH[:EXPORT]`: serve this app for every host. */
  app?: string;
  /** Command-line flags, already in config shape; they win over the file. */
  overrides?: Record<string, unknown>;
  /** The environment (WEB_CONCURRENCY, PORT). */
  env: NodeJS.ProcessEnv;
}

export function normalizeConfig(input: NormalizeInput): ServePlan {
  const label = input.file ?? 'command line';
  const issues = new Issues(label);
  const root = new ConfigPath();
  let raw: Record<string, unknown> = {};
  if (input.raw !== undefined && input.raw !== null) {
    if (isPlainObject(input.raw)) raw = { ...input.raw };
    else issues.expected(root, 'the config object (export default defineConfig({ … }))', input.raw);
  }
  checkKeys(raw, TOP_LEVEL_KEYS, root, issues);
  const overrides = input.overrides ?? {};
  // Flags win over the file: merge them on top, so messages still name the key.
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if ((key === 'limits' || key === 'admin') && isPlainObject(value) && isPlainObject(raw[key])) raw[key] = { ...raw[key], ...value };
    else raw[key] = value;
  }
  const baseDir = input.file ? dirname(input.file) : input.cwd;
  const env = input.env;

  // A relay only copies bytes: one worker keeps up with a VPS's network, and keeps its per-client caps exact.
  const workers = raw.workers === undefined ? (raw.relay !== undefined ? 1 : defaultWorkers(env)) : (readInteger(raw.workers, root.key('workers'), issues, 1, 1024) ?? 1);

  const serviceNames = isPlainObject(raw.services) ? Object.keys(raw.services) : [];
  const maxBodyBytes = readLimitsMaxBody(raw.limits, issues, root);
  const relay = raw.relay === undefined ? null : normalizeRelay(raw.relay, root.key('relay'), issues, baseDir);
  if (raw.relay !== undefined) checkRelayRole(raw, root, issues);
  let sites: SitePlan[];
  if (raw.relay !== undefined) {
    sites = [];
  } else if (input.app !== undefined) {
    const { module, exportName } = parseAppSpec(input.app, input.cwd);
    sites = [appSite(module, exportName, maxBodyBytes)];
  } else if (raw.sites !== undefined) {
    sites = normalizeSites(raw.sites, root.key('sites'), issues, { baseDir, maxBodyBytes, serviceNames });
  } else {
    issues.add(root.key('sites'), "nothing to serve: give an app (kirin serve app.ts) or sites in the config, e.g. sites: { '*': { '/': { app: './app.ts' } } }");
    sites = [];
  }

  const listen = relay ? { http: relay.listen, https: [] } : normalizeListen(raw.listen, root.key('listen'), issues, baseDir, env, sites);

  const plan: ServePlan = {
    configFile: input.file,
    baseDir,
    workers,
    listen,
    envFiles: raw.envFiles === undefined ? [] : (readStringArray(raw.envFiles, root.key('envFiles'), issues) ?? []).map((f) => resolve(baseDir, f)),
    trustedProxies: raw.trustedProxies === undefined ? [] : readTrustedProxies(raw.trustedProxies, root.key('trustedProxies'), issues),
    stateDir: raw.stateDir === undefined ? defaultStateDir(baseDir, env) : resolve(baseDir, readString(raw.stateDir, root.key('stateDir'), issues) ?? '.'),
    pidFile: raw.pidFile === undefined ? null : resolve(baseDir, readString(raw.pidFile, root.key('pidFile'), issues) ?? 'kirin.pid'),
    timeoutMs: raw.timeout === undefined ? 30_000 : (readDuration(raw.timeout, root.key('timeout'), issues) ?? 30_000),
    gracefulTimeoutMs: raw.gracefulTimeout === undefined ? 30_000 : (readDuration(raw.gracefulTimeout, root.key('gracefulTimeout'), issues) ?? 30_000),
    sticky: raw.sticky === undefined ? false : (readBoolean(raw.sticky, root.key('sticky'), issues) ?? false),
    maxRequests: raw.maxRequests === undefined ? 0 : (readInteger(raw.maxRequests, root.key('maxRequests'), issues, 0) ?? 0),
    maxRequestsJitter: raw.maxRequestsJitter === undefined ? 0 : (readInteger(raw.maxRequestsJitter, root.key('maxRequestsJitter'), issues, 0) ?? 0),
    maxMemoryBytes: raw.maxMemory === undefined ? 0 : (readSize(raw.maxMemory, root.key('maxMemory'), issues) ?? 0),
    limits: normalizeLimits(raw.limits, root.key('limits'), issues, maxBodyBytes),
    accessLog: normalizeAccessLog(raw.accessLog, root.key('accessLog'), issues, baseDir),
    logLevel: raw.logLevel === undefined ? 'info' : (readEnum(raw.logLevel, LOG_LEVELS, root.key('logLevel'), issues) ?? 'info'),
    services: {},
    sites,
    tls: { email: null, acmeDirectory: 'https://acme-v02.api.letsencrypt.org/directory', caBundle: null, storage: '' },
    admin: null,
    notify: { email: null, webhook: null },
    ddns: null,
    relay: relay?.relay ?? null,
    dev: null,
  };
  plan.services = normalizeServices(raw.services, root.key('services'), issues, baseDir, plan.stateDir);
  checkProxiedServices(plan, issues);
  plan.tls = normalizeTls(raw.tls, root.key('tls'), issues, baseDir, plan.stateDir);
  plan.admin = normalizeAdmin(raw.admin, root.key('admin'), issues);
  plan.notify = normalizeNotify(raw.notify, root.key('notify'), issues);
  plan.ddns = normalizeDdns(raw.ddns, root.key('ddns'), issues, sites);
  checkProxyListeners(plan, issues);
  if (plan.maxMemoryBytes > 0 && plan.maxMemoryBytes < 32 * 1024 * 1024) {
    issues.add(root.key('maxMemory'), 'is below 32 MB, less than an idle Node process uses; workers would recycle forever');
  }
  issues.attributeToFlags(flagSetting(overrides));
  issues.throwIfAny();
  return plan;
}

function defaultWorkers(env: NodeJS.ProcessEnv): number {
  const fromEnv = Number(env.WEB_CONCURRENCY);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return availableParallelism();
}

function appSite(module: string, exportName: string, maxBodyBytes: number): SitePlan {
  return {
    key: '*',
    hosts: ['*'],
    tls: { mode: 'off' },
    tlsExplicit: false,
    hstsSeconds: 0,
    headers: null,
    routes: [
      {
        prefix: '/',
        at: 'app',
        handler: { type: 'app', module, exportName },
        middleware: { allow: null, deny: null, auth: null, rateLimit: null, headers: null, compress: null, maxBodyBytes, stripPrefix: null },
        websocket: DEFAULT_WEBSOCKET,
      },
    ],
  };
}

function normalizeListen(raw: unknown, at: ConfigPath, issues: Issues, baseDir: string, env: NodeJS.ProcessEnv, sites: SitePlan[]) {
  const read = (value: unknown, key: 'http' | 'https'): ListenAddress[] => readListenEntries(value, at.key(key), issues, baseDir);
  if (raw === undefined) {
    const tlsSites = sites.filter((s) => s.tls.mode !== 'off');
    if (tlsSites.length > 0) {
      return { http: [parseListenAddress(':80', baseDir) as ListenAddress], https: [parseListenAddress(':443', baseDir) as ListenAddress] };
    }
    const port = env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : null;
    // PORT means a platform routes traffic to us (Heroku, Render, Cloud Run): listen on all addresses, as Gunicorn does.
    const spec = port ? `0.0.0.0:${port}` : '127.0.0.1:8000';
    return { http: [parseListenAddress(spec, baseDir) as ListenAddress], https: [] };
  }
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ http: ['127.0.0.1:8080'], https: [':443'] }", raw);
    return { http: [], https: [] };
  }
  checkKeys(raw, ['http', 'https'], at, issues);
  const listen = { http: raw.http === undefined ? [] : read(raw.http, 'http'), https: raw.https === undefined ? [] : read(raw.https, 'https') };
  const written = (Array.isArray(raw.http) ? raw.http.length : raw.http ? 1 : 0) + (Array.isArray(raw.https) ? raw.https.length : raw.https ? 1 : 0);
  if (written === 0) issues.add(at, 'no listeners: give at least one http or https address');
  if (listen.https.length === 0) {
    // Without an https listener, TLS cannot be served: sites default to plain HTTP, and asking for TLS is an error.
    for (const site of sites) {
      if (site.tls.mode === 'off') continue;
      if (site.tlsExplicit) issues.add(new ConfigPath(['sites', site.key, 'tls']), `is '${site.tls.mode}' but listen has no https addresses; add listen.https (e.g. [':443'])`);
      site.tls = { mode: 'off' };
      site.hstsSeconds = 0;
    }
  }
  return listen;
}

function readLimitsMaxBody(raw: unknown, issues: Issues, root: ConfigPath): number {
  const fallback = 10 * 1024 * 1024;
  if (!isPlainObject(raw) || raw.maxBody === undefined) return fallback;
  return readSize(raw.maxBody, root.key('limits').key('maxBody'), new Issues(issues.file)) ?? fallback;
}

function normalizeLimits(raw: unknown, at: ConfigPath, issues: Issues, maxBodyBytes: number) {
  const limits = {
    headerTimeoutMs: 10_000,
    requestTimeoutMs: 60_000,
    keepAliveTimeoutMs: 5_000,
    // nginx's send_timeout: long enough for any client that reads at all.
    sendTimeoutMs: 60_000,
    maxHeaderSize: 16 * 1024,
    maxHeaders: 100,
    maxBodyBytes,
  };
  if (raw === undefined) return limits;
  if (!isPlainObject(raw)) {
    issues.expected(at, '{ headerTimeout, requestTimeout, keepAliveTimeout, sendTimeout, maxHeaderSize, maxHeaders, maxBody }', raw);
    return limits;
  }
  checkKeys(raw, ['headerTimeout', 'requestTimeout', 'keepAliveTimeout', 'sendTimeout', 'maxHeaderSize', 'maxHeaders', 'maxBody'], at, issues);
  if (raw.headerTimeout !== undefined) limits.headerTimeoutMs = readDuration(raw.headerTimeout, at.key('headerTimeout'), issues) ?? limits.headerTimeoutMs;
  if (raw.requestTimeout !== undefined) limits.requestTimeoutMs = readDuration(raw.requestTimeout, at.key('requestTimeout'), issues) ?? limits.requestTimeoutMs;
  if (raw.keepAliveTimeout !== undefined) limits.keepAliveTimeoutMs = readDuration(raw.keepAliveTimeout, at.key('keepAliveTimeout'), issues) ?? limits.keepAliveTimeoutMs;
  if (raw.sendTimeout !== undefined) limits.sendTimeoutMs = readDuration(raw.sendTimeout, at.key('sendTimeout'), issues) ?? limits.sendTimeoutMs;
  if (raw.maxHeaderSize !== undefined) limits.maxHeaderSize = readSize(raw.maxHeaderSize, at.key('maxHeaderSize'), issues) ?? limits.maxHeaderSize;
  if (raw.maxHeaders !== undefined) limits.maxHeaders = readInteger(raw.maxHeaders, at.key('maxHeaders'), issues, 1, 10_000) ?? limits.maxHeaders;
  if (raw.maxBody !== undefined) readSize(raw.maxBody, at.key('maxBody'), issues);
  if (limits.requestTimeoutMs > 0 && limits.headerTimeoutMs > limits.requestTimeoutMs) {
    // The default header timeout gives way to a shorter request timeout; an explicit one is a mistake.
    if (raw.headerTimeout === undefined) limits.headerTimeoutMs = limits.requestTimeoutMs;
    else issues.add(at.key('headerTimeout'), `(${limits.headerTimeoutMs / 1000} s) must not be longer than requestTimeout (${limits.requestTimeoutMs / 1000} s)`);
  }
  return limits;
}

function normalizeAccessLog(raw: unknown, at: ConfigPath, issues: Issues, baseDir: string): string | null {
  if (raw === undefined) return '-';
  if (raw === false || raw === 'off') return null;
  if (raw === '-') return '-';
  const path = readString(raw, at, issues, "'-' (stdout), a file path, or 'off'");
  return path === undefined ? null : resolve(baseDir, path);
}

function readTrustedProxies(raw: unknown, at: ConfigPath, issues: Issues): string[] {
  const list = readStringArray(raw, at, issues, "a list of IPs or CIDR ranges, e.g. ['127.0.0.1/32']") ?? [];
  list.forEach((entry, i) => {
    if (parseCidr(entry) === null) issues.add(at.key(i), `"${entry}" is not an IP address or CIDR range`);
  });
  return list;
}

function normalizeServices(raw: unknown, at: ConfigPath, issues: Issues, baseDir: string, stateDir: string): Record<string, ServicePlan> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) {
    issues.expected(at, "an object of services, e.g. { django: { command: 'gunicorn mysite.wsgi --bind unix:{socket}' } }", raw);
    return {};
  }
  const services: Record<string, ServicePlan> = {};
  for (const [name, value] of Object.entries(raw)) {
    const serviceAt = at.key(name);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) issues.add(serviceAt, 'a service name is letters, digits, "-", "_" and "."');
    if (typeof value === 'string') {
      services[name] = servicePlan(name, { command: value }, serviceAt, issues, baseDir, stateDir);
    } else if (isPlainObject(value)) {
      checkKeys(value, ['command', 'cwd', 'env', 'readyTimeout', 'stopTimeout'], serviceAt, issues);
      services[name] = servicePlan(name, value, serviceAt, issues, baseDir, stateDir);
    } else issues.expected(serviceAt, "{ command: '…', cwd?, env?, readyTimeout?, stopTimeout? }", value);
  }
  return services;
}

/** A route can only proxy to a service that listens somewhere Kirin knows: its {socket} or {port}. */
function checkProxiedServices(plan: ServePlan, issues: Issues): void {
  for (const site of plan.sites) {
    for (const route of site.routes) {
      const handler = route.handler;
      if (handler.type !== 'proxy' || handler.service === null) continue;
      const service = plan.services[handler.service];
      if (service && service.socket === null && !service.usesPort) {
        issues.add(
          new ConfigPath(['sites', site.key, route.prefix, 'proxy', 'service']),
          `the service "${handler.service}" has no {socket} or {port} in its command, so there is nothing to proxy to; bind it to unix:{socket} or 127.0.0.1:{port}`,
        );
      }
    }
  }
}

function servicePlan(name: string, raw: Record<string, unknown>, at: ConfigPath, issues: Issues, baseDir: string, stateDir: string): ServicePlan {
  const command = readString(raw.command, at.key('command'), issues, 'a command line') ?? '';
  const socket = command.includes('{socket}') ? join(stateDir, 'run', `${name}.sock`) : null;
  const tooLong = socket === null ? null : socketPathTooLong(socket);
  if (tooLong !== null) issues.add(at.key('command'), `${tooLong}; set a shorter ${keyAndFlag('stateDir')}`);
  return {
    name,
    command,
    cwd: raw.cwd === undefined ? baseDir : resolve(baseDir, readString(raw.cwd, at.key('cwd'), issues, 'a folder') ?? '.'),
    env: raw.env === undefined ? {} : (readStringRecord(raw.env, at.key('env'), issues) ?? {}),
    socket,
    port: 0,
    usesPort: command.includes('{port}'),
    readyTimeoutMs: raw.readyTimeout === undefined ? 30_000 : (readDuration(raw.readyTimeout, at.key('readyTimeout'), issues) ?? 30_000),
    stopTimeoutMs: raw.stopTimeout === undefined ? 10_000 : (readDuration(raw.stopTimeout, at.key('stopTimeout'), issues) ?? 10_000),
  };
}

const ACME_DIRECTORIES: Record<string, string> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};

function normalizeTls(raw: unknown, at: ConfigPath, issues: Issues, baseDir: string, stateDir: string) {
  const plan = { email: null as string | null, acmeDirectory: ACME_DIRECTORIES.letsencrypt!, caBundle: null as string | null, storage: resolve(stateDir, 'tls') };
  if (raw === undefined) return plan;
  if (!isPlainObject(raw)) {
    issues.expected(at, '{ email, acme, caBundle, storage }', raw);
    return plan;
  }
  checkKeys(raw, ['email', 'acme', 'caBundle', 'storage'], at, issues);
  if (raw.email !== undefined) {
    const email = readString(raw.email, at.key('email'), issues, 'an e-mail address');
    if (email !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) issues.add(at.key('email'), `"${email}" does not look like an e-mail address`);
    plan.email = email ?? null;
  }
  if (raw.acme !== undefined) {
    const acme = readString(raw.acme, at.key('acme'), issues, "'letsencrypt', 'letsencrypt-staging' or an ACME directory URL");
    if (acme !== undefined) {
      if (ACME_DIRECTORIES[acme]) plan.acmeDirectory = ACME_DIRECTORIES[acme];
      else if (/^https:\/\//.test(acme)) plan.acmeDirectory = acme;
      else issues.add(at.key('acme'), `expected 'letsencrypt', 'letsencrypt-staging' or an https:// directory URL; got ${JSON.stringify(acme)}`);
    }
  }
  if (raw.caBundle !== undefined) plan.caBundle = resolve(baseDir, readString(raw.caBundle, at.key('caBundle'), issues, 'a PEM file path') ?? '');
  if (raw.storage !== undefined) plan.storage = resolve(baseDir, readString(raw.storage, at.key('storage'), issues, 'a folder') ?? '');
  return plan;
}

function normalizeAdmin(raw: unknown, at: ConfigPath, issues: Issues) {
  const defaultListen = parseListenAddress('127.0.0.1:9180', '/') as ListenAddress;
  if (raw === false) return null;
  if (raw === undefined) return { listen: defaultListen, token: null };
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ listen: '127.0.0.1:9180', token? } or false", raw);
    return null;
  }
  checkKeys(raw, ['listen', 'token'], at, issues);
  let listen = defaultListen;
  if (raw.listen !== undefined) {
    const spec = readString(raw.listen, at.key('listen'), issues, "an address like '127.0.0.1:9180'");
    if (spec !== undefined) {
      const parsed = parseListenAddress(spec, '/');
      if (typeof parsed === 'string') issues.add(at.key('listen'), `${parsed}; got ${JSON.stringify(spec)}`);
      else listen = parsed;
    }
  }
  const token = raw.token === undefined ? null : (readString(raw.token, at.key('token'), issues, 'a token string') ?? null);
  const loopback = listen.kind === 'unix' || listen.host === '127.0.0.1' || listen.host === '::1';
  if (!loopback && !token) issues.add(at.key('token'), `is required when the admin listener is reachable beyond loopback (listen is ${listen.spec}); make one with \`kirin secret\``);
  if (token !== null && token.length < 24) issues.add(at.key('token'), 'is too short: use at least 24 characters (`kirin secret` makes one)');
  return { listen, token };
}

function normalizeNotify(raw: unknown, at: ConfigPath, issues: Issues) {
  const plan = { email: null as { url: string; from: string; to: string[] } | null, webhook: null as string | null };
  if (raw === undefined) return plan;
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ email: { url: 'smtp://…', from, to: [...] }, webhook: 'https://…' }", raw);
    return plan;
  }
  checkKeys(raw, ['email', 'webhook'], at, issues);
  if (raw.email !== undefined) {
    const emailAt = at.key('email');
    if (isPlainObject(raw.email)) {
      checkKeys(raw.email, ['url', 'from', 'to'], emailAt, issues);
      const url = readString(raw.email.url, emailAt.key('url'), issues, "an SMTP URL like 'smtp://user:pass@mail.example.com:587'");
      if (url !== undefined && !/^smtps?:\/\//.test(url)) issues.add(emailAt.key('url'), 'expected an smtp:// or smtps:// URL');
      const from = readString(raw.email.from, emailAt.key('from'), issues, 'a sender address');
      const to = readStringArray(raw.email.to, emailAt.key('to'), issues, 'a list of addresses');
      if (url && from && to) plan.email = { url, from, to };
    } else issues.expected(emailAt, "{ url: 'smtp://…', from, to: [...] }", raw.email);
  }
  if (raw.webhook !== undefined) {
    const url = readString(raw.webhook, at.key('webhook'), issues, 'an http(s) URL');
    if (url !== undefined && !/^https?:\/\//.test(url)) issues.add(at.key('webhook'), 'expected an http:// or https:// URL');
    plan.webhook = url ?? null;
  }
  return plan;
}

