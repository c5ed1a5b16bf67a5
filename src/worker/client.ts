/**
 * Who the client is. The address and scheme come from the socket; the
 * X-Forwarded-* and Forwarded headers are believed only when the peer is a
 * trusted proxy, and then the rightmost address that is not itself a trusted
 * proxy is the client (a client can prepend anything to X-Forwarded-For, but
 * cannot forge what the trusted hops appended).
 *
 * Kirin then states its conclusion to the app and upstreams in
 * X-Forwarded-For (the client address), X-Forwarded-Proto and X-Forwarded-Host,
 * and drops `Forwarded`, so an app configured to trust Kirin (Django's
 * SECURE_PROXY_SSL_HEADER, Express's `trust proxy`) reads the right values.
 * Another worker that forwards a request of a Socket.IO session to its worker
 * (worker/sticky/forward.ts) states the same conclusion there, which that
 * worker's peer socket believes (`forWorkerPeers`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { canonicalIp, IpMatcher } from '../net/ip.ts';
import type { NodeRequest } from './node-message.ts';

/** A unix-socket peer is a local process: it counts as loopback. */
const UNIX_PEER = '127.0.0.1';
const EVERY_ADDRESS = ['0.0.0.0/0', '::/0'];

export class ClientResolver {
  readonly #trusted: IpMatcher;
  readonly #trustsAnyone: boolean;

  constructor(trustedProxies: readonly string[]) {
    this.#trusted = IpMatcher.compile(trustedProxies).matcher;
    this.#trustsAnyone = this.#trusted.ranges.length > 0;
  }

  /**
   * The resolver of a worker's peer socket (worker/sticky/peer-server.ts),
   * never of a public listener. Its only peers are Kirin's other workers, in
   * a folder only Kirin's user may enter; they forward a request with their
   * own conclusion about the client as X-Forwarded-For (one address), -Proto
   * and -Host, which is believed as it is: with every hop trusted, the
   * leftmost (the only one) is the client.
   */
  static forWorkerPeers(): ClientResolver {
    return new ClientResolver(EVERY_ADDRESS);
  }

  /** False when no peer is trusted: forwarding headers need not be read at all. */
  get trustsSomeone(): boolean {
    return this.#trustsAnyone;
  }

  peer(req: NodeRequest): string {
    return this.peerOf(req.socket);
  }

  /** The same for a socket (the fast lane has no request object). */
  peerOf(socket: { remoteAddress?: string | undefined } | null | undefined): string {
    const remote = socket?.remoteAddress;
    if (remote === undefined) return UNIX_PEER;
    return canonicalIp(remote) ?? remote;
  }

  /** True when the forwarding headers of this request are believed. */
  trustsPeer(req: NodeRequest): boolean {
    return this.#trustsAnyone && this.#trusted.matches(this.peer(req));
  }

  client(req: NodeRequest): string {
    return this.clientFrom(this.peer(req), req.headers);
  }

  /** The client from the peer's address and the request's headers (only the forwarding ones are read). */
  clientFrom(peer: string, headers: IncomingHttpHeaders): string {
    if (!this.#trustsAnyone || !this.#trusted.matches(peer)) return peer;
    const hops = forwardedFor(headers);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = canonicalIp(hops[i]!);
      // An unparsable hop ends the chain we can vouch for; stop at the last good one.
      if (hop === null) return i === hops.length - 1 ? peer : canonicalIp(hops[i + 1]!)!;
      if (!this.#trusted.matches(hop)) return hop;
    }
    // Every hop is trusted: the leftmost is the best we know.
    return hops.length > 0 ? (canonicalIp(hops[0]!) ?? peer) : peer;
  }

  scheme(req: NodeRequest, secure: boolean): 'http' | 'https' {
    return this.schemeFrom(this.peer(req), req.headers, secure);
  }

  /** The scheme from the peer's address and the request's headers (only the forwarding ones are read). */
  schemeFrom(peer: string, headers: IncomingHttpHeaders, secure: boolean): 'http' | 'https' {
    if (this.#trustsAnyone && this.#trusted.matches(peer)) {
      const proto = lastValue(headers['x-forwarded-proto']) ?? forwardedParam(headers.forwarded, 'proto');
      if (proto !== undefined) return proto.toLowerCase() === 'https' ? 'https' : 'http';
    }
    return secure ? 'https' : 'http';
  }

  /** The X-Forwarded-Host a trusted proxy sent, if any. */
  forwardedHost(req: NodeRequest): string | undefined {
    if (!this.#trustsAnyone || !this.#trusted.matches(this.peer(req))) return undefined;
    return lastValue(req.headers['x-forwarded-host']) ?? forwardedParam(req.headers.forwarded, 'host');
  }
}

function forwardedFor(headers: IncomingHttpHeaders): string[] {
  const xff = headers['x-forwarded-for'];
  if (xff !== undefined) {
    const joined = Array.isArray(xff) ? xff.join(',') : xff;
    return joined
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  const forwarded = headers.forwarded;
  if (forwarded === undefined) return [];
  return forwardedElements(forwarded)
    .map((e) => e.get('for'))
    .filter((v): v is string => v !== undefined)
    .map(stripForwardedNode);
}

function lastValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const parts = joined.split(',');
  const last = parts[parts.length - 1]!.trim();
  return last || undefined;
}

function forwardedParam(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  const elements = forwardedElements(value);
  for (let i = elements.length - 1; i >= 0; i--) {
    const v = elements[i]!.get(name);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** RFC 7239: `for=192.0.2.1;proto=https, for="[2001:db8::1]:4711"`. */
function forwardedElements(value: string): Map<string, string>[] {
  return value.split(',').map((element) => {
    const pairs = new Map<string, string>();
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      pairs.set(pair.slice(0, eq).trim().toLowerCase(), v);
    }
    return pairs;
  });
}

/** `[2001:db8::1]:4711` → `2001:db8::1`; `192.0.2.1:80` → `192.0.2.1`. */
function stripForwardedNode(node: string): string {
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    return close === -1 ? node : node.slice(1, close);
  }
  const colon = node.indexOf(':');
  return colon !== -1 && node.indexOf(':', colon + 1) === -1 ? node.slice(0, colon) : node;
}
