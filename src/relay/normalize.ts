/**
 * Config for the relay: the `relay` section (the VPS end) and listen entries
 * in their long form `{ address, proxyProtocol }` (the home end). Called from
 * src/config/normalize.ts; problems go to the same Issues with their key path.
 */
import { networkInterfaces } from 'node:os';
import { checkKeys, ConfigPath, isPlainObject, type Issues, readDuration, readInteger, readString, readStringArray } from '../config/issues.ts';
import { parseListenAddress } from '../config/listen-address.ts';
import { parseSiteKey } from '../config/normalize-routes.ts';
import type { ListenAddress, ServePlan } from '../config/plan.ts';
import { canonicalIp, isLoopback } from '../net/ip.ts';
import type { RelayPlan } from './plan.ts';

const RELAY_KEYS = ['to', 'listen', 'names', 'maxConnectionsPerClient', 'idleTimeout', 'connectTimeout'] as const;
const DEFAULT_LISTEN = [':80', ':443'];
/** Browsers open about 6 connections per host; many people can share one address behind a NAT. */
const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 128;
/** A backstop for dead peers, long enough for a quiet WebSocket between pings; the home Kirin keeps its own keep-alive limits. */
const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

const LISTEN_EXAMPLE = "a list of addresses like ['127.0.0.1:8080', { address: '10.77.0.2:443', proxyProtocol: true }]";

/** Reads `listen.http` or `listen.https`: strings, or `{ address, proxyProtocol }` objects. */
export function readListenEntries(value: unknown, at: ConfigPath, issues: Issues, baseDir: string): ListenAddress[] {
  const list = Array.isArray(value) ? value : [value];
  if (!Array.isArray(value) && typeof value !== 'string' && !isPlainObject(value)) {
    issues.expected(at, LISTEN_EXAMPLE, value);
    return [];
  }
  const out: ListenAddress[] = [];
  list.forEach((entry, i) => {
    const entryAt = at.key(i);
    let spec: string | undefined;
    let proxyProtocol = false;
    if (typeof entry === 'string' && entry.length > 0) spec = entry;
    else if (isPlainObject(entry)) {
      checkKeys(entry, ['address', 'proxyProtocol'], entryAt, issues);
      spec = readString(entry.address, entryAt.key('address'), issues, "an address like '10.77.0.2:443'");
      if (entry.proxyProtocol !== undefined && typeof entry.proxyProtocol !== 'boolean') issues.expected(entryAt.key('proxyProtocol'), 'true or false', entry.proxyProtocol);
      proxyProtocol = entry.proxyProtocol === true;
    } else issues.expected(entryAt, "an address string or { address: '10.77.0.2:443', proxyProtocol: true }", entry);
    if (spec === undefined) return;
    const parsed = parseListenAddress(spec, baseDir);
    if (typeof parsed === 'string') issues.add(typeof entry === 'string' ? entryAt : entryAt.key('address'), `${parsed}; got ${JSON.stringify(spec)}`);
    else out.push(proxyProtocol ? { ...parsed, proxyProtocol: true } : parsed);
  });
  return out;
}

/** The `relay` section: the plan, and the public addresses it listens on. */
export function normalizeRelay(raw: unknown, at: ConfigPath, issues: Issues, baseDir: string): { relay: RelayPlan; listen: ListenAddress[] } | null {
  if (!isPlainObject(raw)) {
    issues.expected(at, "{ to: '10.77.0.2', listen?: [':80', ':443'], names?: ['example.com'] }", raw);
    return null;
  }
  checkKeys(raw, RELAY_KEYS, at, issues);
  const toText = readString(raw.to, at.key('to'), issues, "the home end's tunnel address, e.g. '10.77.0.2'");
  const to = toText === undefined ? null : canonicalIp(toText);
  if (toText !== undefined && to === null) issues.add(at.key('to'), `"${toText}" is not an IP address; give the home end's tunnel address, e.g. '10.77.0.2' (the port is the one the connection came in on)`);

  const listen: ListenAddress[] = [];
  const specs = raw.listen === undefined ? DEFAULT_LISTEN : (readStringArray(raw.listen, at.key('listen'), issues, "a list of public addresses like [':80', ':443']") ?? []);
  specs.forEach((spec, i) => {
    const parsed = parseListenAddress(spec, baseDir);
    const entryAt = at.key('listen').key(i);
    if (typeof parsed === 'string') issues.add(entryAt, `${parsed}; got ${JSON.stringify(spec)}`);
    else if (parsed.kind !== 'tcp') issues.add(entryAt, `a relay forwards TCP ports; expected 'HOST:PORT' or ':PORT', got ${JSON.stringify(spec)}`);
    else if (parsed.port === 0) issues.add(entryAt, `each port is forwarded to the same port at home, so it must be fixed; got ${JSON.stringify(spec)}`);
    else listen.push(parsed);
  });
  if (raw.listen !== undefined && specs.length === 0) issues.add(at.key('listen'), "no addresses: give the public ports to forward, e.g. [':80', ':443']");
  if (to !== null) {
    // Forwarding a port to itself would open connections in a loop until the caps stop it.
    const local = isLoopback(to) || Object.values(networkInterfaces()).some((list) => list?.some((i) => canonicalIp(i.address) === to));
    const loops = listen.filter((a) => a.host === to || (a.host === '' && local));
    for (const a of loops) issues.add(at.key('to'), `${to} is this machine's own address for ${a.spec}: every connection would be forwarded back to the relay; give the home end's tunnel address`);
  }

  let names: string[] | null = null;
  if (raw.names !== undefined) {
    const list = readStringArray(raw.names, at.key('names'), issues, "a list of host names like ['example.com', '*.example.com']") ?? [];
    names = list.flatMap((name, i) => parseSiteKey(name, at.key('names').key(i), issues));
    if (names.includes('*')) names = null;
  }
  const relay: RelayPlan = {
    to: to ?? '',
    names,
    maxConnectionsPerClient:
      raw.maxConnectionsPerClient === undefined ? DEFAULT_MAX_CONNECTIONS_PER_CLIENT : (readInteger(raw.maxConnectionsPerClient, at.key('maxConnectionsPerClient'), issues, 1, 1_000_000) ?? DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
    idleTimeoutMs: raw.idleTimeout === undefined ? DEFAULT_IDLE_TIMEOUT_MS : (readDuration(raw.idleTimeout, at.key('idleTimeout'), issues) ?? DEFAULT_IDLE_TIMEOUT_MS),
    connectTimeoutMs: raw.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : (readDuration(raw.connectTimeout, at.key('connectTimeout'), issues) ?? DEFAULT_CONNECT_TIMEOUT_MS),
  };
  if (relay.connectTimeoutMs === 0) issues.add(at.key('connectTimeout'), 'must be above 0: a connection to an unreachable home would wait forever');
  return { relay, listen };
}

/** A relay forwards everything on its ports: sites and listen there would never see a request. */
export function checkRelayRole(raw: Record<string, unknown>, root: ConfigPath, issues: Issues): void {
  for (const key of ['sites', 'listen'] as const) {
    if (raw[key] === undefined) continue;
    issues.add(root.key(key), `cannot be used with relay: a relay forwards every connection on relay.listen to the home end; serve sites at home (docs/relay.md)`);
  }
}

/** A PROXY header is believed only from trustedProxies, so a listener that expects one needs them. */
export function checkProxyListeners(plan: ServePlan, issues: Issues): void {
  if (plan.trustedProxies.length > 0) return;
  for (const kind of ['http', 'https'] as const) {
    plan.listen[kind].forEach((address, i) => {
      if (address.proxyProtocol) {
        issues.add(new ConfigPath(['listen', kind, i, 'proxyProtocol']), "PROXY headers are accepted only from trustedProxies, and there are none: add the relay's tunnel address, e.g. trustedProxies: ['10.77.0.1']");
      }
    });
  }
}
