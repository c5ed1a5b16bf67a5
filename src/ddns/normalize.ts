/**
 * `ddns` in kirin.config.*: from what the user wrote to a DdnsPlan, every
 * problem named by its key path (the same Issues collector as the rest of the
 * config). Credentials must be `'$NAME'` references: a token written into the
 * config would end up in git, in backups and in `kirin export` output.
 */
import { isIP } from 'node:net';
import { checkKeys, type ConfigPath, isPlainObject, type Issues, readBoolean, readDuration, readEnum, readInteger, readString, readStringArray } from '../config/issues.ts';
import { isLocalName } from '../config/normalize-routes.ts';
import type { SitePlan } from '../config/plan.ts';
import { isLoopback } from '../net/ip.ts';
import type { DdnsProviderName, TsigAlgorithm } from './config-types.ts';
import type { DdnsPlan, ProviderPlan, SecretRef } from './plan.ts';

const PROVIDERS: readonly DdnsProviderName[] = ['rfc2136', 'cloudflare', 'dyndns2', 'duckdns'];
const COMMON_KEYS = ['provider', 'names', 'ipv4', 'ipv6', 'interval', 'detect'] as const;
const PROVIDER_KEYS: Record<DdnsProviderName, readonly string[]> = {
  rfc2136: ['server', 'zone', 'key', 'ttl'],
  cloudflare: ['server', 'zone', 'token', 'ttl'],
  dyndns2: ['server', 'username', 'password'],
  duckdns: ['server', 'token'],
};
export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha224', 'hmac-sha1'];

/** Public echo services run by different operators, so that two of them agreeing means something. */
export const DEFAULT_ECHO_SERVICES = {
  ipv4: ['https://api.ipify.org', 'https://ipv4.icanhazip.com', 'https://v4.ident.me', 'https://checkip.amazonaws.com'],
  ipv6: ['https://api6.ipify.org', 'https://ipv6.icanhazip.com', 'https://v6.ident.me'],
};

const DEFAULT_INTERVAL_MS = 5 * 60_000;
/** Echo services are run as a courtesy: asking more often than once a minute is rude, and the address rarely changes faster. */
const MIN_INTERVAL_MS = 60_000;
const ENV_REFERENCE = /^\$([A-Za-z_][A-Za-z0-9_]*)$/;
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)+$/;

export function normalizeDdns(raw: unknown, at: ConfigPath, issues: Issues, sites: readonly SitePlan[]): DdnsPlan | null {
  if (raw === undefined || raw === false) return null;
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ provider: 'rfc2136' | 'cloudflare' | 'dyndns2' | 'duckdns', names?, … } (see docs/ddns.md)", raw);
    return null;
  }
  const provider = readEnum(raw.provider, PROVIDERS, at.key('provider'), issues);
  if (provider === undefined) return null;
  checkKeys(raw, [...COMMON_KEYS, ...PROVIDER_KEYS[provider]], at, issues);

  const names = raw.names === undefined ? defaultNames(sites) : readNames(raw.names, at.key('names'), issues);
  if (names.length === 0) issues.add(at.key('names'), 'no names to update: list them (names: [\'home.example.com\']) or give the sites public host names');
  const plan: DdnsPlan = {
    names,
    ipv4: raw.ipv4 === undefined ? true : (readBoolean(raw.ipv4, at.key('ipv4'), issues) ?? true),
    ipv6: raw.ipv6 === undefined ? true : (readBoolean(raw.ipv6, at.key('ipv6'), issues) ?? true),
    intervalMs: readInterval(raw.interval, at.key('interval'), issues),
    detect: readDetect(raw.detect, at.key('detect'), issues),
    provider: readProvider(provider, raw, at, issues),
  };
  if (!plan.ipv4 && !plan.ipv6) issues.add(at, 'ipv4 and ipv6 are both false: there is nothing to update');
  checkNamesFitProvider(plan, at.key('names'), issues);
  return plan;
}

/** The sites' public host names: not '*', not wildcards, not local names or addresses (nobody's DNS holds those). */
export function defaultNames(sites: readonly SitePlan[]): string[] {
  const names = new Set<string>();
  for (const site of sites) {
    for (const host of site.hosts) if (DOMAIN_NAME.test(host) && !isLocalName(host)) names.add(host);
  }
  return [...names];
}

function readNames(raw: unknown, at: ConfigPath, issues: Issues): string[] {
  const list = readStringArray(raw, at, issues, "a list of host names, e.g. ['home.example.com']") ?? [];
  const names: string[] = [];
  list.forEach((entry, i) => {
    const name = entry.trim().toLowerCase().replace(/\.$/, '');
    if (DOMAIN_NAME.test(name) && isIP(name) === 0) names.push(name);
    else issues.add(at.key(i), `"${entry}" is not a host name; expected a full name like 'home.example.com' (no wildcards, no addresses)`);
  });
  return [...new Set(names)];
}

function readInterval(raw: unknown, at: ConfigPath, issues: Issues): number {
  if (raw === undefined) return DEFAULT_INTERVAL_MS;
  const ms = readDuration(raw, at, issues) ?? DEFAULT_INTERVAL_MS;
  if (ms < MIN_INTERVAL_MS) {
    issues.add(at, `is ${ms / 1000} s; the shortest is 1 minute ('1m'): echo services and providers block clients that ask more often`);
    return MIN_INTERVAL_MS;
  }
  return ms;
}

function readDetect(raw: unknown, at: ConfigPath, issues: Issues): DdnsPlan['detect'] {
  const detect = { ipv4: DEFAULT_ECHO_SERVICES.ipv4, ipv6: DEFAULT_ECHO_SERVICES.ipv6 };
  if (raw === undefined) return detect;
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ ipv4?: ['https://…', 'https://…'], ipv6?: ['https://…'] }", raw);
    return detect;
  }
  checkKeys(raw, ['ipv4', 'ipv6'], at, issues);
  for (const family of ['ipv4', 'ipv6'] as const) {
    if (raw[family] === undefined) continue;
    const list = readStringArray(raw[family], at.key(family), issues, 'a list of echo service URLs') ?? [];
    list.forEach((url, i) => checkEchoUrl(url, at.key(family).key(i), issues));
    if (family === 'ipv4' && list.length === 1) issues.add(at.key(family), 'lists one echo service; list at least two, so that one service answering wrong (or lying) cannot move your names');
    detect[family] = list;
  }
  return detect;
}

/** HTTPS only: a plain-HTTP answer can be changed on the way and would point the names somewhere else. Loopback is the exception (a local helper). */
function checkEchoUrl(url: string, at: ConfigPath, issues: Issues): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    issues.add(at, `"${url}" is not a URL; expected e.g. 'https://api.ipify.org'`);
    return;
  }
  if (parsed.protocol === 'https:') return;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return;
  issues.add(at, `"${url}" must be an https:// URL: a plain-HTTP answer can be changed on the way and would point your names somewhere else`);
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || isLoopback(hostname.replace(/^\[|\]$/g, ''));
}

function readProvider(provider: DdnsProviderName, raw: Record<string, unknown>, at: ConfigPath, issues: Issues): ProviderPlan {
  switch (provider) {
    case 'rfc2136': {
      const server = readServerAddress(raw.server, at.key('server'), issues);
      const zone = readZone(raw.zone, at.key('zone'), issues, true) ?? '';
      return { kind: 'rfc2136', host: server.host, port: server.port, zone, key: readTsigKey(raw.key, at.key('key'), issues), ttl: readTtl(raw.ttl, at.key('ttl'), issues, 300, 1) };
    }
    case 'cloudflare':
      return {
        kind: 'cloudflare',
        server: readApiUrl(raw.server, at.key('server'), issues, 'https://api.cloudflare.com/client/v4'),
        zone: raw.zone === undefined ? null : (readZone(raw.zone, at.key('zone'), issues, false) ?? null),
        token: readSecretRef(raw.token, at.key('token'), issues, 'DDNS_CLOUDFLARE_TOKEN'),
        // Cloudflare's TTL: 1 means automatic, otherwise 60 s and up.
        ttl: readTtl(raw.ttl, at.key('ttl'), issues, 1, 60, true),
      };
    case 'dyndns2':
      return {
        kind: 'dyndns2',
        server: raw.server === undefined ? (issues.add(at.key('server'), "is required for dyndns2: the service's address, e.g. 'https://dynupdate.no-ip.com'"), '') : readApiUrl(raw.server, at.key('server'), issues, ''),
        username: readUsername(raw.username, at.key('username'), issues),
        password: readSecretRef(raw.password, at.key('password'), issues, 'DDNS_PASSWORD'),
      };
    case 'duckdns':
      return { kind: 'duckdns', server: readApiUrl(raw.server, at.key('server'), issues, 'https://www.duckdns.org'), token: readSecretRef(raw.token, at.key('token'), issues, 'DUCKDNS_TOKEN') };
  }
}

/** `'$NAME'` → the variable NAME; anything else is refused with the form to use. */
export function readSecretRef(raw: unknown, at: ConfigPath, issues: Issues, example: string): SecretRef {
  const ref = { variable: '', at: at.toString() };
  if (typeof raw === 'string') {
    const match = ENV_REFERENCE.exec(raw.trim());
    if (match) return { ...ref, variable: match[1]! };
    // Never echo the value: it may be the secret itself.
    issues.add(at, `must name an environment variable, like '$${example}', with the value in an env file listed in envFiles (chmod 600); a credential written into the config ends up in git and backups`);
    return ref;
  }
  issues.add(at, `is required: '$${example}', with ${example}=… in an env file listed in envFiles`);
  return ref;
}

function readUsername(raw: unknown, at: ConfigPath, issues: Issues): string | SecretRef {
  if (typeof raw === 'string' && ENV_REFERENCE.test(raw.trim())) return readSecretRef(raw, at, issues, 'DDNS_USERNAME');
  return readString(raw, at, issues, "the account's user name (or '$DDNS_USERNAME')") ?? '';
}

function readTsigKey(raw: unknown, at: ConfigPath, issues: Issues): { name: string; algorithm: TsigAlgorithm; secret: SecretRef } {
  const key = { name: '', algorithm: 'hmac-sha256' as TsigAlgorithm, secret: { variable: '', at: at.key('secret').toString() } };
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ name: 'kirin-ddns.', algorithm: 'hmac-sha256', secret: '$DDNS_TSIG_SECRET' }", raw);
    return key;
  }
  checkKeys(raw, ['name', 'algorithm', 'secret'], at, issues);
  const name = readString(raw.name, at.key('name'), issues, "the key's name as the server knows it, e.g. 'kirin-ddns.'");
  if (name !== undefined) {
    key.name = name.toLowerCase().replace(/\.$/, '');
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(key.name)) issues.add(at.key('name'), `"${name}" is not a key name; expected a domain-style name like 'kirin-ddns.'`);
  }
  if (raw.algorithm !== undefined) key.algorithm = readEnum(raw.algorithm, TSIG_ALGORITHMS, at.key('algorithm'), issues) ?? key.algorithm;
  key.secret = readSecretRef(raw.secret, at.key('secret'), issues, 'DDNS_TSIG_SECRET');
  return key;
}

function readZone(raw: unknown, at: ConfigPath, issues: Issues, required: boolean): string | undefined {
  if (raw === undefined) {
    if (required) issues.add(at, "is required: the zone the names are in, e.g. 'example.com'");
    return undefined;
  }
  const text = readString(raw, at, issues, "a zone name, e.g. 'example.com'");
  if (text === undefined) return undefined;
  const zone = text.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN_NAME.test(zone)) issues.add(at, `"${text}" is not a zone name; expected e.g. 'example.com'`);
  return zone;
}

/** 'HOST', 'HOST:PORT' or '[IPv6]:PORT'; port 53 when left out. */
function readServerAddress(raw: unknown, at: ConfigPath, issues: Issues): { host: string; port: number } {
  const text = readString(raw, at, issues, "the primary server as 'HOST:PORT', e.g. 'ns1.example.com:53' or '127.0.0.1:53'");
  if (text === undefined) return { host: '', port: 53 };
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = match?.[3] === undefined ? 53 : Number(match[3]);
  if (!match || port < 1 || port > 65535) {
    issues.add(at, `"${text}" is not 'HOST:PORT'; expected e.g. 'ns1.example.com:53', '127.0.0.1:53' or '[2001:db8::53]:53'`);
    return { host: '', port: 53 };
  }
  return { host: match[1] ?? match[2]!, port };
}

function readApiUrl(raw: unknown, at: ConfigPath, issues: Issues, fallback: string): string {
  if (raw === undefined) return fallback;
  const text = readString(raw, at, issues, 'an https:// URL');
  if (text === undefined) return fallback;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    issues.add(at, `"${text}" is not a URL; expected e.g. 'https://dynupdate.no-ip.com'`);
    return fallback;
  }
  // Credentials travel in these requests: plain HTTP only to a helper on this machine.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    issues.add(at, `"${text}" must be an https:// URL: the request carries your credentials`);
  }
  if (url.username || url.password) issues.add(at, 'must not hold a user name or password: use username and password (as $NAME references)');
  return text.replace(/\/+$/, '');
}

function readTtl(raw: unknown, at: ConfigPath, issues: Issues, fallback: number, min: number, allowAuto = false): number {
  if (raw === undefined) return fallback;
  if (allowAuto && raw === 1) return 1;
  return readInteger(raw, at, issues, min, 86_400) ?? fallback;
}

/** Names each provider can actually update: inside the rfc2136 zone, under duckdns.org. */
function checkNamesFitProvider(plan: DdnsPlan, at: ConfigPath, issues: Issues): void {
  const provider = plan.provider;
  for (const name of plan.names) {
    if (provider.kind === 'rfc2136' && provider.zone && name !== provider.zone && !name.endsWith(`.${provider.zone}`)) {
      issues.add(at, `"${name}" is not in the zone ${provider.zone}; an RFC 2136 update changes one zone (list only its names, or set zone)`);
    }
    if (provider.kind === 'cloudflare' && provider.zone && name !== provider.zone && !name.endsWith(`.${provider.zone}`)) {
      issues.add(at, `"${name}" is not in the zone ${provider.zone}`);
    }
    if (provider.kind === 'duckdns' && !name.endsWith('.duckdns.org')) {
      issues.add(at, `"${name}" is not a DuckDNS name; DuckDNS updates names like 'myhome.duckdns.org'`);
    }
  }
}
