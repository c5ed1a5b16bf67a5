/**
 * Sites and routes: from what the user wrote to SitePlan/RoutePlan.
 */
import { isAbsolute, resolve } from 'node:path';
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
import type {
  HandlerPlan,
  HeaderRulesPlan,
  HeadersPlan,
  HealthCheckPlan,
  MiddlewarePlan,
  ProxyHandlerPlan,
  RoutePlan,
  SitePlan,
  SiteTlsPlan,
} from './plan.ts';
import { DEFAULT_WEBSOCKET, normalizeWebSocket } from './normalize-websocket.ts';

export interface RouteDefaults {
  baseDir: string;
  maxBodyBytes: number;
  serviceNames: readonly string[];
}

const HANDLER_KEYS = ['app', 'static', 'proxy', 'redirect', 'respond'] as const;
const MIDDLEWARE_KEYS = ['allow', 'deny', 'auth', 'rateLimit', 'headers', 'compress', 'maxBody', 'stripPrefix'] as const;
const STATIC_KEYS = ['immutable', 'spa', 'index', 'cacheControl'] as const;
const SITE_OPTION_KEYS = ['headers', 'tls', 'hsts'] as const;

/** Two years, the HSTS preload list's minimum. */
export const DEFAULT_HSTS_SECONDS = 63_072_000;

export function normalizeSites(raw: unknown, at: ConfigPath, issues: Issues, defaults: RouteDefaults): SitePlan[] {
  if (!isPlainObject(raw)) {
    issues.expected(at, "an object of sites, e.g. { 'example.com': { '/': { app: './app.ts' } } }", raw);
    return [];
  }
  const sites: SitePlan[] = [];
  const seenHosts = new Map<string, string>();
  for (const [key, value] of Object.entries(raw)) {
    const siteAt = at.key(key);
    const hosts = parseSiteKey(key, siteAt, issues);
    for (const host of hosts) {
      const other = seenHosts.get(host);
      if (other !== undefined) issues.add(siteAt, `host "${host}" is already claimed by site "${other}"`);
      seenHosts.set(host, key);
    }
    if (!isPlainObject(value)) {
      issues.expected(siteAt, "an object of routes and site options, e.g. { '/': { app: './app.ts' } }", value);
      continue;
    }
    sites.push(normalizeSite(key, hosts, value, siteAt, issues, defaults));
  }
  return sites;
}

/** 'a.test, www.a.test' → ['a.test', 'www.a.test'], validated and lower-cased. */
export function parseSiteKey(key: string, at: ConfigPath, issues: Issues): string[] {
  const hosts: string[] = [];
  for (const part of key.split(',')) {
    const host = part.trim().toLowerCase().replace(/\.$/, '');
    if (host === '') {
      issues.add(at, 'empty host name in the site key (check the commas)');
      continue;
    }
    if (host === '*' || isHostPattern(host)) hosts.push(host);
    else issues.add(at, `"${part.trim()}" is not a host name; expected names like 'example.com', '*.example.com' (one label) or '*'`);
  }
  return hosts;
}

function isHostPattern(host: string): boolean {
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.startsWith('[') && name.endsWith(']')) return parseCidr(name.slice(1, -1)) !== null;
  return /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(name);
}

function normalizeSite(key: string, hosts: string[], raw: Record<string, unknown>, at: ConfigPath, issues: Issues, defaults: RouteDefaults): SitePlan {
  const routes: RoutePlan[] = [];
  const options: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith('/')) routes.push(normalizeRoute(name, value, at.key(name), issues, defaults));
    else options[name] = value;
  }
  checkKeys(options, SITE_OPTION_KEYS, at, issues);
  if (routes.length === 0) issues.add(at, "a site needs at least one route, e.g. '/': { app: './app.ts' }");
  const tls = options.tls === undefined ? defaultSiteTls(hosts) : normalizeSiteTls(options.tls, at.key('tls'), issues, defaults.baseDir);
  let hstsSeconds = tls.mode === 'off' ? 0 : DEFAULT_HSTS_SECONDS;
  if (options.hsts !== undefined) {
    if (options.hsts === false) hstsSeconds = 0;
    else if (options.hsts === true) hstsSeconds = DEFAULT_HSTS_SECONDS;
    else hstsSeconds = readInteger(options.hsts, at.key('hsts'), issues, 0) ?? hstsSeconds;
  }
  routes.sort((a, b) => b.prefix.length - a.prefix.length);
  return {
    key,
    hosts,
    tls,
    tlsExplicit: options.tls !== undefined,
    hstsSeconds,
    headers: options.headers === undefined ? null : normalizeHeaders(options.headers, at.key('headers'), issues),
    routes,
  };
}

/**
 * TLS is on only where it can work without surprises: sites whose names are all
 * public DNS names get ACME; local names get the local CA; '*' and bare IPs stay
 * plain HTTP unless the user says otherwise (`kirin check` flags it).
 */
export function defaultSiteTls(hosts: readonly string[]): SiteTlsPlan {
  if (hosts.length === 0 || hosts.includes('*')) return { mode: 'off' };
  if (hosts.every(isLocalName)) return { mode: 'local' };
  if (hosts.some((h) => isLocalName(h) || isIpLiteral(h))) return { mode: 'off' };
  return { mode: 'auto' };
}

export function isLocalName(host: string): boolean {
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name === 'localhost' || name.endsWith('.localhost') || name.endsWith('.local') || name.endsWith('.internal') || name.endsWith('.test')) return true;
  return false;
}

function isIpLiteral(host: string): boolean {
  return parseCidr(host.replace(/^\[|\]$/g, '')) !== null;
}

function normalizeSiteTls(raw: unknown, at: ConfigPath, issues: Issues, baseDir: string): SiteTlsPlan {
  if (raw === 'auto' || raw === 'local' || raw === 'off') return { mode: raw };
  if (isPlainObject(raw)) {
    checkKeys(raw, ['cert', 'key'], at, issues);
    const cert = readString(raw.cert, at.key('cert'), issues, 'a certificate file path');
    const key = readString(raw.key, at.key('key'), issues, 'a private key file path');
    return { mode: 'files', cert: resolve(baseDir, cert ?? ''), key: resolve(baseDir, key ?? '') };
  }
  issues.expected(at, "'auto', 'local', 'off' or { cert, key }", raw);
  return { mode: 'off' };
}

function normalizeRoute(prefix: string, raw: unknown, at: ConfigPath, issues: Issues, defaults: RouteDefaults): RoutePlan {
  const cleanPrefix = normalizePrefix(prefix, at, issues);
  if (typeof raw === 'string') raw = { app: raw };
  if (!isPlainObject(raw)) {
    issues.expected(at, "a route object with one handler, e.g. { app: './app.ts' } or { static: './public' }", raw);
    return placeholderRoute(cleanPrefix, at, defaults);
  }
  const handlers = HANDLER_KEYS.filter((k) => raw[k] !== undefined);
  const handlerType = handlers[0];
  const known: string[] = [...HANDLER_KEYS, ...MIDDLEWARE_KEYS];
  if (handlerType === 'static') known.push(...STATIC_KEYS);
  if (handlerType === 'app') known.push('websocket');
  checkKeys(raw, known, at, issues);
  if (handlers.length !== 1) {
    issues.add(at, handlers.length === 0 ? `a route needs one handler: ${HANDLER_KEYS.join(', ')}` : `a route has exactly one handler, found ${handlers.join(' and ')}`);
    return placeholderRoute(cleanPrefix, at, defaults);
  }
  const handler = normalizeHandler(handlerType!, raw, at, issues, defaults);
  const middleware = normalizeMiddleware(raw, at, issues, defaults, cleanPrefix);
  const websocket = normalizeWebSocket(raw.websocket, at.key('websocket'), issues);
  return { prefix: cleanPrefix, at: at.toString(), handler, middleware, websocket };
}

/** '/static/' and '/static' both name the folder; a route matches the prefix itself and anything below it. */
function normalizePrefix(prefix: string, at: ConfigPath, issues: Issues): string {
  if (/[?#%\\\s]/.test(prefix) || prefix.includes('//') || /\/\.\.?(\/|$)/.test(prefix)) {
    issues.add(at, `route prefix "${prefix}" must be a plain path like '/static/' (no query, escapes, spaces or dot segments)`);
  }
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

function placeholderRoute(prefix: string, at: ConfigPath, defaults: RouteDefaults): RoutePlan {
  return { prefix, at: at.toString(), handler: { type: 'respond', status: 500, body: '', headers: {} }, middleware: emptyMiddleware(defaults.maxBodyBytes), websocket: DEFAULT_WEBSOCKET };
}

export function emptyMiddleware(maxBodyBytes: number): MiddlewarePlan {
  return { allow: null, deny: null, auth: null, rateLimit: null, headers: null, compress: null, maxBodyBytes, stripPrefix: null };
}

function normalizeHandler(type: (typeof HANDLER_KEYS)[number], raw: Record<string, unknown>, at: ConfigPath, issues: Issues, defaults: RouteDefaults): HandlerPlan {
  const value = raw[type];
  const valueAt = at.key(type);
  switch (type) {
    case 'app': {
      const spec = readString(value, valueAt, issues, "a module path like './app.ts' or './server.js:handler'") ?? '';
      return { type: 'app', ...parseAppSpec(spec, defaults.baseDir) };
    }
    case 'static': {
      const root = readString(value, valueAt, issues, "a folder like './public'") ?? '.';
      let spa: string | null = null;
      if (raw.spa === true) spa = '/index.html';
      else if (typeof raw.spa === 'string') spa = raw.spa.startsWith('/') ? raw.spa : `/${raw.spa}`;
      else if (raw.spa !== undefined && raw.spa !== false) issues.expected(at.key('spa'), "true or a file like 'index.html'", raw.spa);
      let index = ['index.html'];
      if (raw.index === false) index = [];
      else if (raw.index !== undefined) index = readStringArray(raw.index, at.key('index'), issues) ?? index;
      return {
        type: 'static',
        root: resolve(defaults.baseDir, root),
        immutable: raw.immutable === undefined ? false : (readBoolean(raw.immutable, at.key('immutable'), issues) ?? false),
        spa,
        index,
        cacheControl: raw.cacheControl === undefined ? 'public, max-age=0, must-revalidate' : (readString(raw.cacheControl, at.key('cacheControl'), issues) ?? ''),
      };
    }
    case 'proxy':
      return normalizeProxy(value, valueAt, issues, defaults);
    case 'redirect': {
      if (typeof value === 'string') return { type: 'redirect', to: value, status: 308 };
      if (isPlainObject(value)) {
        checkKeys(value, ['to', 'status'], valueAt, issues);
        const to = readString(value.to, valueAt.key('to'), issues, 'a URL or path') ?? '/';
        const status = value.status === undefined ? 308 : readEnum(String(value.status), ['301', '302', '303', '307', '308'], valueAt.key('status'), issues);
        return { type: 'redirect', to, status: Number(status ?? 308) };
      }
      issues.expected(valueAt, "a URL, or { to: 'https://…', status: 301 }", value);
      return { type: 'redirect', to: '/', status: 308 };
    }
    case 'respond': {
      if (typeof value === 'string') return { type: 'respond', status: 200, body: value, headers: {} };
      if (isPlainObject(value)) {
        checkKeys(value, ['status', 'body', 'headers'], valueAt, issues);
        const status = value.status === undefined ? 200 : (readInteger(value.status, valueAt.key('status'), issues, 100, 599) ?? 200);
        const body = value.body === undefined ? '' : typeof value.body === 'string' ? value.body : (issues.expected(valueAt.key('body'), 'a string', value.body), '');
        const headers = value.headers === undefined ? {} : lowerKeys(readStringRecord(value.headers, valueAt.key('headers'), issues) ?? {});
        return { type: 'respond', status, body, headers };
      }
      issues.expected(valueAt, "a body string, or { status, body, headers }", value);
      return { type: 'respond', status: 200, body: '', headers: {} };
    }
  }
}

/** './app.ts:handler' → module and export name; a Windows drive letter is not an export. */
export function parseAppSpec(spec: string, baseDir: string): { module: string; exportName: string } {
  const match = /^(.*?)(?::([A-Za-z_$][\w$]*))?$/.exec(spec)!;
  let modulePath = match[1]!;
  let exportName = match[2] ?? 'default';
  if (modulePath.length === 1 && /[A-Za-z]/.test(modulePath)) {
    modulePath = spec;
    exportName = 'default';
  }
  return { module: isAbsolute(modulePath) ? modulePath : resolve(baseDir, modulePath), exportName };
}

const LB_POLICIES = ['round_robin', 'least_conn', 'ip_hash', 'random'] as const;
const PROXY_KEYS = ['to', 'service', 'lb', 'health', 'connectTimeout', 'responseTimeout', 'retries', 'maxFails', 'failTimeout', 'preserveHost'] as const;

function normalizeProxy(raw: unknown, at: ConfigPath, issues: Issues, defaults: RouteDefaults): ProxyHandlerPlan {
  const plan: ProxyHandlerPlan = {
    type: 'proxy',
    to: [],
    service: null,
    lb: 'round_robin',
    health: null,
    connectTimeoutMs: 5_000,
    responseTimeoutMs: 60_000,
    retries: 2,
    maxFails: 3,
    failTimeoutMs: 10_000,
    preserveHost: true,
  };
  if (typeof raw === 'string') raw = { to: [raw] };
  if (!isPlainObject(raw)) {
    issues.expected(at, "an upstream URL, or { to: ['http://127.0.0.1:9001'] } or { service: 'name' }", raw);
    return plan;
  }
  checkKeys(raw, PROXY_KEYS, at, issues);
  if (raw.to !== undefined) {
    const list = readStringArray(raw.to, at.key('to'), issues, 'an upstream URL or a list of them') ?? [];
    list.forEach((url, i) => {
      const problem = upstreamProblem(url);
      if (problem) issues.add(at.key('to').key(i), `${problem}; got ${JSON.stringify(url)}`);
    });
    plan.to = list;
  }
  if (raw.service !== undefined) {
    const name = readString(raw.service, at.key('service'), issues, 'a service name');
    if (name !== undefined && !defaults.serviceNames.includes(name)) {
      issues.add(at.key('service'), `no service named "${name}"${defaults.serviceNames.length ? `; services: ${defaults.serviceNames.join(', ')}` : '; define it under services'}`);
    }
    plan.service = name ?? null;
  }
  if ((plan.to.length > 0) === (plan.service !== null)) {
    issues.add(at, plan.service ? 'give either to or service, not both' : 'a proxy needs to (upstream URLs) or service (a service name)');
  }
  if (raw.lb !== undefined) plan.lb = readEnum(raw.lb, LB_POLICIES, at.key('lb'), issues) ?? plan.lb;
  if (raw.health !== undefined) plan.health = normalizeHealth(raw.health, at.key('health'), issues);
  if (raw.connectTimeout !== undefined) plan.connectTimeoutMs = readDuration(raw.connectTimeout, at.key('connectTimeout'), issues) ?? plan.connectTimeoutMs;
  if (raw.responseTimeout !== undefined) plan.responseTimeoutMs = readDuration(raw.responseTimeout, at.key('responseTimeout'), issues) ?? plan.responseTimeoutMs;
  if (raw.retries !== undefined) plan.retries = readInteger(raw.retries, at.key('retries'), issues, 0, 10) ?? plan.retries;
  if (raw.maxFails !== undefined) plan.maxFails = readInteger(raw.maxFails, at.key('maxFails'), issues, 1) ?? plan.maxFails;
  if (raw.failTimeout !== undefined) plan.failTimeoutMs = readDuration(raw.failTimeout, at.key('failTimeout'), issues) ?? plan.failTimeoutMs;
  if (raw.preserveHost !== undefined) plan.preserveHost = readBoolean(raw.preserveHost, at.key('preserveHost'), issues) ?? true;
  return plan;
}

/** What is wrong with an upstream URL, or null. */
export function upstreamProblem(url: string): string | null {
  if (url.startsWith('http://unix:') || url.startsWith('unix:')) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "expected an upstream URL like 'http://127.0.0.1:9001' or 'http://unix:/run/app.sock'";
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'an upstream URL must start with http:// or https://';
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) return 'an upstream URL is scheme, host and port only (no path)';
  if (parsed.username || parsed.password) return 'an upstream URL must not carry credentials';
  return null;
}

function normalizeHealth(raw: unknown, at: ConfigPath, issues: Issues): HealthCheckPlan | null {
  const plan: HealthCheckPlan = { path: '/', intervalMs: 5_000, timeoutMs: 2_000, expectMin: 200, expectMax: 399 };
  if (typeof raw === 'string') raw = { path: raw };
  if (!isPlainObject(raw)) {
    issues.expected(at, "a path like '/healthz' or { path, interval, timeout, expect }", raw);
    return null;
  }
  checkKeys(raw, ['path', 'interval', 'timeout', 'expect'], at, issues);
  const path = readString(raw.path, at.key('path'), issues, "a path like '/healthz'");
  if (path !== undefined && !path.startsWith('/')) issues.add(at.key('path'), `a health check path starts with '/'; got ${JSON.stringify(path)}`);
  plan.path = path ?? '/';
  if (raw.interval !== undefined) plan.intervalMs = readDuration(raw.interval, at.key('interval'), issues) ?? plan.intervalMs;
  if (raw.timeout !== undefined) plan.timeoutMs = readDuration(raw.timeout, at.key('timeout'), issues) ?? plan.timeoutMs;
  if (raw.expect !== undefined) {
    const match = typeof raw.expect === 'string' ? /^([1-5])xx$/.exec(raw.expect) : null;
    if (match) {
      plan.expectMin = Number(match[1]) * 100;
      plan.expectMax = plan.expectMin + 99;
    } else if (typeof raw.expect === 'number' && raw.expect >= 100 && raw.expect <= 599) {
      plan.expectMin = plan.expectMax = raw.expect;
    } else issues.expected(at.key('expect'), "a status like 200 or a class like '2xx'", raw.expect);
  }
  return plan;
}

function normalizeMiddleware(raw: Record<string, unknown>, at: ConfigPath, issues: Issues, defaults: RouteDefaults, prefix: string): MiddlewarePlan {
  const plan = emptyMiddleware(defaults.maxBodyBytes);
  if (raw.allow !== undefined) plan.allow = readAddressList(raw.allow, at.key('allow'), issues);
  if (raw.deny !== undefined) plan.deny = readAddressList(raw.deny, at.key('deny'), issues);
  if (raw.auth !== undefined) {
    const authAt = at.key('auth');
    if (isPlainObject(raw.auth)) {
      checkKeys(raw.auth, ['users', 'realm'], authAt, issues);
      const users = readStringRecord(raw.auth.users, authAt.key('users'), issues) ?? {};
      for (const [user, hash] of Object.entries(users)) {
        if (!BCRYPT_HASH.test(hash) && !ARGON2_HASH.test(hash)) {
          issues.add(authAt.key('users').key(user), 'expected a whole bcrypt ($2b$…, 60 characters) or argon2 ($argon2id$v=19$m=…) hash, not a plain password; make one with `kirin hash-password`');
        }
        if (user.includes(':')) issues.add(authAt.key('users').key(user), 'a basic-auth user name cannot contain ":"');
      }
      if (Object.keys(users).length === 0) issues.add(authAt.key('users'), 'auth needs at least one user');
      const realm = raw.auth.realm === undefined ? 'Restricted' : (readString(raw.auth.realm, authAt.key('realm'), issues) ?? 'Restricted');
      // It goes into the WWW-Authenticate header, which carries printable ASCII only.
      if (!/^[\x20-\x7e]*$/.test(realm)) issues.add(authAt.key('realm'), `a realm is printable ASCII (it is sent in a header); got ${JSON.stringify(realm)}`);
      plan.auth = { users, realm };
    } else issues.expected(authAt, "{ users: { name: '$2b$…' }, realm?: string }", raw.auth);
  }
  if (raw.rateLimit !== undefined) plan.rateLimit = normalizeRateLimit(raw.rateLimit, at.key('rateLimit'), issues);
  if (raw.headers !== undefined) plan.headers = normalizeHeaders(raw.headers, at.key('headers'), issues);
  if (raw.compress !== undefined) {
    const compressAt = at.key('compress');
    if (raw.compress === true) plan.compress = { types: DEFAULT_COMPRESSIBLE, minSize: 1024 };
    else if (raw.compress === false) plan.compress = null;
    else if (isPlainObject(raw.compress)) {
      checkKeys(raw.compress, ['types', 'minSize'], compressAt, issues);
      plan.compress = {
        types: raw.compress.types === undefined ? DEFAULT_COMPRESSIBLE : (readStringArray(raw.compress.types, compressAt.key('types'), issues) ?? DEFAULT_COMPRESSIBLE),
        minSize: raw.compress.minSize === undefined ? 1024 : (readSize(raw.compress.minSize, compressAt.key('minSize'), issues) ?? 1024),
      };
    } else issues.expected(compressAt, 'true, false or { types, minSize }', raw.compress);
  }
  if (raw.maxBody !== undefined) plan.maxBodyBytes = readSize(raw.maxBody, at.key('maxBody'), issues) ?? plan.maxBodyBytes;
  if (raw.stripPrefix !== undefined) {
    if (raw.stripPrefix === true) plan.stripPrefix = prefix === '/' ? null : prefix;
    else if (raw.stripPrefix === false) plan.stripPrefix = null;
    else {
      const strip = readString(raw.stripPrefix, at.key('stripPrefix'), issues, "true or a prefix like '/api'");
      if (strip !== undefined) {
        const clean = strip.length > 1 && strip.endsWith('/') ? strip.slice(0, -1) : strip;
        if (!clean.startsWith('/') || !(prefix === clean || prefix.startsWith(`${clean}/`) || clean === '/')) {
          issues.add(at.key('stripPrefix'), `the prefix to strip must be the start of the route "${prefix}"; got ${JSON.stringify(strip)}`);
        } else plan.stripPrefix = clean === '/' ? null : clean;
      }
    }
  }
  return plan;
}

/** Password hashes `auth` verifies (middleware/password-hash.ts). */
const BCRYPT_HASH = /^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/;
const ARGON2_HASH = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+(?:,[a-z]+=[^$,]*)*\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export const DEFAULT_COMPRESSIBLE = [
  'text/',
  'application/json',
  'application/javascript',
  'application/xml',
  'application/manifest+json',
  'application/ld+json',
  'application/rss+xml',
  'application/atom+xml',
  'image/svg+xml',
  'application/wasm',
];

function readAddressList(raw: unknown, at: ConfigPath, issues: Issues): string[] {
  const list = readStringArray(raw, at, issues, "a list of IP addresses or CIDR ranges, e.g. ['127.0.0.1', '192.168.0.0/16']") ?? [];
  list.forEach((entry, i) => {
    if (parseCidr(entry) === null) issues.add(at.key(i), `"${entry}" is not an IP address or CIDR range (e.g. '10.0.0.0/8', '::1')`);
  });
  return list;
}

const RATE_UNITS: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600 };

function normalizeRateLimit(raw: unknown, at: ConfigPath, issues: Issues): { perSecond: number; burst: number } | null {
  let rate: unknown = raw;
  let burst: number | undefined;
  if (isPlainObject(raw)) {
    checkKeys(raw, ['rate', 'burst'], at, issues);
    rate = raw.rate;
    if (raw.burst !== undefined) burst = readInteger(raw.burst, at.key('burst'), issues, 1);
    at = at.key('rate');
  }
  let perSecond: number | undefined;
  if (typeof rate === 'number' && rate > 0) perSecond = rate;
  else if (typeof rate === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*([a-z]+)\s*$/.exec(rate);
    if (match && RATE_UNITS[match[2]!] !== undefined) perSecond = Number(match[1]) / RATE_UNITS[match[2]!]!;
  }
  if (perSecond === undefined || perSecond <= 0) {
    issues.expected(at, "a rate like '10/s', '600/m' or '10000/h'", rate);
    return null;
  }
  return { perSecond, burst: burst ?? Math.max(1, Math.ceil(perSecond)) };
}

export function normalizeHeaders(raw: unknown, at: ConfigPath, issues: Issues): HeadersPlan | null {
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ request?: { set, remove }, response?: { set, remove } }", raw);
    return null;
  }
  checkKeys(raw, ['request', 'response'], at, issues);
  const request = raw.request === undefined ? null : normalizeHeaderRules(raw.request, at.key('request'), issues);
  const response = raw.response === undefined ? null : normalizeHeaderRules(raw.response, at.key('response'), issues);
  return request || response ? { request, response } : null;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function normalizeHeaderRules(raw: unknown, at: ConfigPath, issues: Issues): HeaderRulesPlan | null {
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ set: { 'x-name': 'value' }, remove: ['x-other'] }", raw);
    return null;
  }
  checkKeys(raw, ['set', 'remove'], at, issues);
  const set = raw.set === undefined ? {} : lowerKeys(readStringRecord(raw.set, at.key('set'), issues) ?? {});
  const remove = raw.remove === undefined ? [] : (readStringArray(raw.remove, at.key('remove'), issues) ?? []).map((h) => h.toLowerCase());
  for (const [name, value] of Object.entries(set)) {
    if (!HEADER_NAME.test(name)) issues.add(at.key('set').key(name), 'not a valid header name');
    if (/[\r\n\0]/.test(value)) issues.add(at.key('set').key(name), 'a header value cannot contain CR, LF or NUL');
  }
  for (const name of remove) if (!HEADER_NAME.test(name)) issues.add(at.key('remove'), `"${name}" is not a valid header name`);
  return { set, remove };
}

function lowerKeys(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) out[k.toLowerCase()] = v;
  return out;
}

