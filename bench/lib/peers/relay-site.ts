/**
 * The relay bench's pieces, in test/support/netns.ts's namespaces: the home
 * Kirin ("Hello, world!" over HTTPS, reached directly and behind PROXY
 * listeners), a Kirin relay on the VPS, and HAProxy as the peer relay —
 * `mode tcp`, the ClientHello's SNI checked (`req.ssl_sni`) and the client
 * passed on with `send-proxy-v2`, the way Pangolin and selfhosted-gateway
 * set it up: the yardstick for what a relay costs on this machine.
 *
 * Every site and relay name is an IP address: wrk sends the URL's host as
 * SNI, and both relays check that name, so they do the same work.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { app } from '../paths.ts';

export interface HomeSite {
  dir: string;
  /** Addresses clients use (the site's names). */
  names: string[];
  /** `address:port` of the direct listener. */
  direct: string;
  /** `address:port` of listeners that expect a PROXY v2 header from `trustedProxies`. */
  behindRelay: string[];
  trustedProxies: string[];
  cert: string;
  key: string;
}

/** One worker, no access log, no admin: the path under test and nothing else. */
export function writeHomeConfig(site: HomeSite): string {
  const file = join(site.dir, 'home.json');
  writeFileSync(
    file,
    JSON.stringify({
      workers: 1,
      admin: false,
      accessLog: false,
      stateDir: join(site.dir, 'home-state'),
      trustedProxies: site.trustedProxies,
      listen: { https: [site.direct, ...site.behindRelay.map((address) => ({ address, proxyProtocol: true }))] },
      sites: { [site.names.join(', ')]: { tls: { cert: site.cert, key: site.key }, hsts: false, '/': { app: app('hello-fetch.ts') } } },
    }),
  );
  return file;
}

/** A Kirin relay: `listen` forwarded to the same port at `to`, for the SNI `names` only. */
export function writeKirinRelayConfig(dir: string, name: string, relay: { to: string; listen: string; names: string[] }): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ admin: false, accessLog: false, stateDir: join(dir, `${name}-state`), relay: { to: relay.to, listen: [relay.listen], names: relay.names } }));
  return file;
}

/** HAProxy in one thread (the Kirin relay pinned beside it has one worker), `listen` → `to` for the SNI `name`. */
export function writeHaproxyRelayConfig(dir: string, relay: { listen: string; to: string; name: string }): string {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    [
      'global',
      '  nbthread 1',
      // Its default asks for more descriptors than a container's limit allows.
      '  maxconn 4000',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend relay',
      `  bind ${relay.listen}`,
      '  tcp-request inspect-delay 5s',
      '  tcp-request content accept if { req.ssl_hello_type 1 }',
      `  use_backend home if { req.ssl_sni -i ${relay.name} }`,
      'backend home',
      `  server home ${relay.to} send-proxy-v2`,
      '',
    ].join('\n'),
  );
  return file;
}
