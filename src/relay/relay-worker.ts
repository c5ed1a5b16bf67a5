/**
 * The relay role inside a worker: accept on the public ports (descriptors the
 * master opened), look at the first bytes only as far as needed to learn the
 * name (TLS SNI or the HTTP Host), and forward the whole connection — the
 * bytes untouched, TLS never decrypted — to the same port at the home end,
 * behind a PROXY protocol v2 header that names the client.
 *
 * What is refused, and how:
 *   more than maxConnectionsPerClient from one address  closed at once
 *   a name not in `names`               TLS: closed; HTTP: 421
 *   not TLS and not a readable head     400 (HTTP) or closed
 *   nothing sent within the header timeout              closed
 *   home unreachable                    TLS: closed; HTTP: the 503 page
 * No other destination exists: the target is always `to` and the port the
 * client connected to, so the relay cannot be used as an open proxy.
 */
import { connect, Server, type Socket } from 'node:net';
import type { ServePlan } from '../config/plan.ts';
import type { ListenerFd } from '../ipc.ts';
import { canonicalIp } from '../net/ip.ts';
import type { Logger } from '../observe/log.ts';
import { writeRawError } from '../worker/error-response.ts';
import { SiteMap } from '../worker/host.ts';
import { listenOnFd } from '../worker/servers.ts';
import { MAX_PEEK, readServerName, startsTls } from './client-hello.ts';
import { describeConnectError, HomeHealth } from './home-health.ts';
import { readHttpHost } from './http-host.ts';
import { RELAY_ROUTE, relayUpstreamUrl, type RelayPlan } from './plan.ts';
import { encodeProxyHeader } from './proxy-protocol.ts';
import { SITE_DOWN_PAGE } from './site-down-page.ts';
import { emptyDelta, type RefusalReason, type RelayStatsDelta } from './stats.ts';

/** How long a connection waits for a home end marked down before it is refused (it may be back already). */
const DOWN_CONNECT_TIMEOUT_MS = 1000;

const STATS_EVERY_MS = 1_000;
/** After answering a refused HTTP client, how long to read what it still sends before closing (a close with unread data would reset the answer away). */
const LINGER_MS = 2_000;

/**
 * The other socket of a relayed connection, kept on each socket so the per-chunk handlers below are two
 * shared functions rather than closures per connection (and lighter than stream.pipe's eight listeners).
 */
const PEER = Symbol('relay peer');
type Spliced = Socket & { [PEER]: Socket };

/** Moves what `from` reads to `to`, pausing `from` while `to`'s buffer is full, and ends `to` when `from` ends. */
function splice(from: Socket, to: Socket): void {
  (from as Spliced)[PEER] = to;
  from.on('data', writeToPeer);
  from.on('drain', resumePeer);
  from.once('end', endPeer);
}

function writeToPeer(this: Spliced, chunk: Buffer): void {
  if (!this[PEER].write(chunk)) this.pause();
}

/** `this` has room again: the peer that writes into it may read on. */
function resumePeer(this: Spliced): void {
  this[PEER].resume();
}

function endPeer(this: Spliced): void {
  this[PEER].end();
}

function destroyBoth(this: Spliced): void {
  this[PEER].destroy();
  this.destroy();
}

function destroySelf(this: Socket): void {
  this.destroy();
}

export interface RelayWorkerOptions {
  plan: ServePlan;
  listeners: readonly ListenerFd[];
  logger: Logger;
  notify(type: string, payload: unknown): void;
}

interface Relayed {
  client: Socket;
  /** The client's address, canonical (the per-client count's key and the PROXY header's source). */
  address: string;
  home: Socket | null;
  /** Bytes already counted in a stats report. */
  countedIn: number;
  countedOut: number;
}

export class RelayWorker {
  readonly #plan: ServePlan;
  readonly #relay: RelayPlan;
  readonly #listeners: readonly ListenerFd[];
  readonly #logger: Logger;
  readonly #notify: (type: string, payload: unknown) => void;
  readonly #names: SiteMap<true> | null;
  readonly #servers: Server[] = [];
  readonly #open = new Set<Relayed>();
  readonly #perClient = new Map<string, number>();
  readonly #health: HomeHealth;
  #delta = emptyDelta();
  #reportedOpen = 0;
  #statsTimer: NodeJS.Timeout | null = null;
  /** Set while draining: called when the last connection closes. */
  #drained: (() => void) | null = null;
  /** Connections accepted (for the heartbeat's "served"). */
  accepted = 0;

  constructor(options: RelayWorkerOptions) {
    this.#plan = options.plan;
    this.#relay = options.plan.relay!;
    this.#listeners = options.listeners;
    this.#logger = options.logger;
    this.#notify = options.notify;
    if (this.#relay.names === null) this.#names = null;
    else {
      const names = new SiteMap<true>();
      for (const name of this.#relay.names) names.add(name, true);
      this.#names = names;
    }
    const url = relayUpstreamUrl(this.#relay);
    this.#health = new HomeHealth({
      host: this.#relay.to,
      ports: [...new Set(options.plan.listen.http.map((a) => a.port))],
      connectTimeoutMs: this.#relay.connectTimeoutMs,
      logger: this.#logger,
      onChange: (healthy, reason) => {
        if (healthy) this.#logger.info({ home: url }, `the home end ${url} answers again: relaying`);
        else this.#logger.warn({ home: url, reason }, `the home end ${url} is unreachable: ${reason}; plain HTTP gets the 503 page, TLS connections are closed`);
        this.#notify('upstream-health', { route: RELAY_ROUTE, url, healthy });
      },
    });
  }

  async start(): Promise<void> {
    for (const listener of this.#listeners) {
      // Half-open: a client that shuts down its sending side still gets the whole answer.
      const server = new Server({ allowHalfOpen: true }, (socket) => this.#accept(socket));
      await listenOnFd(server, listener.fd);
      this.#servers.push(server);
    }
    this.#health.start();
    this.#statsTimer = setInterval(() => this.#report(), STATS_EVERY_MS);
    this.#statsTimer.unref();
  }

  get inflight(): number {
    return this.#open.size;
  }

  /** Stops accepting; resolves when every relayed connection has ended (the worker's graceful timeout bounds it). */
  async drain(): Promise<void> {
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.#health.close();
    if (this.#open.size > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    this.#report();
  }

  #accept(client: Socket): void {
    this.accepted++;
    this.#delta.accepted++;
    client.on('error', destroySelf);
    // The kernel's text for an IPv4 peer is canonical already; canonicalIp only rewrites an IPv4-mapped IPv6 one.
    const address = canonicalIp(client.remoteAddress ?? '') ?? client.remoteAddress ?? '';
    const held = this.#perClient.get(address) ?? 0;
    if (held >= this.#relay.maxConnectionsPerClient) {
      this.#refuse(client, 'client-limit', `${address} already holds ${held} connections`);
      client.destroy();
      return;
    }
    this.#perClient.set(address, held + 1);
    const entry: Relayed = { client, address, home: null, countedIn: 0, countedOut: 0 };
    this.#open.add(entry);
    client.once('close', () => this.#closed(entry));
    this.#peek(client, entry);
  }

  #closed(entry: Relayed): void {
    this.#open.delete(entry);
    this.#count(entry);
    // What the home end still has to send goes out first; then it closes.
    entry.home?.destroySoon();
    const left = (this.#perClient.get(entry.address) ?? 1) - 1;
    if (left > 0) this.#perClient.set(entry.address, left);
    else this.#perClient.delete(entry.address);
    if (this.#open.size === 0) this.#drained?.();
  }

  /** Reads until the protocol (and, with `names`, the name) is known; nothing is forwarded before. */
  #peek(client: Socket, entry: Relayed): void {
    let data: Buffer | null = null;
    // The socket's own inactivity timer, not a timer of our own: #forward re-arms the same one as the idle timeout.
    client.setTimeout(this.#plan.limits.headerTimeoutMs);
    const onTimeout = () => {
      client.off('data', onData);
      this.#refuse(client, 'timeout', `nothing to relay within ${this.#plan.limits.headerTimeoutMs / 1000} s`);
      client.destroy();
    };
    const decide = (decision: 'relay' | RefusalReason, tls: boolean, detail: string) => {
      client.off('data', onData);
      client.off('end', destroySelf);
      client.off('timeout', onTimeout);
      client.setTimeout(0);
      client.pause();
      if (decision === 'relay') return this.#forward(client, entry, data!, tls);
      this.#refuse(client, decision, detail);
      if (tls) client.destroy();
      else if (decision === 'name') this.#answer(client, 421, 'this server does not relay that host name');
      else this.#answer(client, 400, detail);
    };
    const onData = (chunk: Buffer) => {
      data = data === null ? chunk : Buffer.concat([data, chunk]);
      const tls = startsTls(data[0]!);
      if (this.#names === null) return decide('relay', tls, '');
      const found = tls ? readServerName(data) : readHttpHost(data, Math.min(MAX_PEEK, this.#plan.limits.maxHeaderSize));
      if (found.kind === 'incomplete') return;
      if (found.kind === 'invalid') return decide('malformed', tls, found.reason);
      if (found.name === null || this.#names.match(found.name) === null) return decide('name', tls, `the name ${found.name === null ? '(none)' : JSON.stringify(found.name)} is not in relay.names`);
      decide('relay', tls, '');
    };
    client.on('data', onData);
    client.once('end', destroySelf);
    client.once('timeout', onTimeout);
  }

  #forward(client: Socket, entry: Relayed, first: Buffer, tls: boolean): void {
    const port = client.localPort!;
    const home = connect({ host: this.#relay.to, port, allowHalfOpen: true, noDelay: true });
    entry.home = home;
    let connected = false;
    // Home marked down is still tried, briefly: it may be back before the next probe says so, and an ACME
    // validation that arrives in between must reach it. A refused connect answers at once; a silent tunnel
    // costs the client at most DOWN_CONNECT_TIMEOUT_MS before the "temporarily unavailable" answer.
    const connectTimeoutMs = this.#health.healthy ? this.#relay.connectTimeoutMs : Math.min(DOWN_CONNECT_TIMEOUT_MS, this.#relay.connectTimeoutMs);
    const connectTimer = setTimeout(() => home.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), connectTimeoutMs);
    home.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      this.#health.succeeded();
      this.#delta.relayed++;
      const source = { address: entry.address, port: client.remotePort ?? 0 };
      const destination = { address: canonicalIp(client.localAddress ?? '') ?? '0.0.0.0', port };
      // The header and the bytes already read leave in one write, so the home end usually reads both in one packet.
      home.write(Buffer.concat([encodeProxyHeader(source, destination), first]));
      splice(client, home);
      splice(home, client);
      client.setNoDelay(true);
      // Every byte either way passes through the client socket, so its inactivity timer alone is the idle timeout.
      if (this.#relay.idleTimeoutMs > 0) {
        client.setTimeout(this.#relay.idleTimeoutMs);
        client.once('timeout', destroyBoth);
      }
      client.resume();
    });
    home.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (connected) return client.destroy();
      const reason = error.message === 'connect timeout' ? `no answer from ${this.#relay.to}:${port} within ${connectTimeoutMs / 1000} s (is the WireGuard tunnel up?)` : describeConnectError(error, this.#relay.to, port);
      this.#health.failed(reason);
      this.#refuse(client, 'home-down', reason);
      this.#homeDown(client, tls);
    });
    // Each side closes once both directions are done (or it failed); what the other side still has to send goes out first.
    home.once('close', () => {
      if (connected) client.destroySoon();
    });
  }

  #homeDown(client: Socket, tls: boolean): void {
    if (tls) client.destroy();
    else this.#answerRaw(client, SITE_DOWN_PAGE);
  }

  #answer(client: Socket, status: number, detail: string): void {
    // writeRawError ends and destroys soon; read what is left first so the answer is not lost to a reset.
    client.resume();
    writeRawError(client, status, detail);
  }

  #answerRaw(client: Socket, response: Buffer): void {
    client.resume();
    client.end(response);
    setTimeout(() => client.destroy(), LINGER_MS).unref();
  }

  #refuse(client: Socket, reason: RefusalReason, detail: string): void {
    this.#delta.refused[reason]++;
    this.#logger.debug({ client: client.remoteAddress, port: client.localPort, reason }, `relay: refused a connection from ${client.remoteAddress}: ${detail}`);
  }

  /** Adds the bytes an open or closing connection moved since it was last counted. */
  #count(entry: Relayed): void {
    const home = entry.home;
    if (home === null) return;
    const bytesIn = home.bytesWritten;
    const bytesOut = home.bytesRead;
    this.#delta.bytesIn += Math.max(0, bytesIn - entry.countedIn);
    this.#delta.bytesOut += Math.max(0, bytesOut - entry.countedOut);
    entry.countedIn = bytesIn;
    entry.countedOut = bytesOut;
  }

  #report(): void {
    for (const entry of this.#open) this.#count(entry);
    const delta = this.#delta;
    delta.open = this.#open.size;
    const changed = delta.accepted + delta.bytesIn + delta.bytesOut > 0 || delta.open !== this.#reportedOpen;
    if (!changed) return;
    this.#reportedOpen = delta.open;
    this.#notify('relay-stats', delta);
    this.#delta = emptyDelta();
  }
}
