/**
 * A worker process: receives its plan and listening sockets from the master,
 * imports the apps, serves, reports, and drains when told to.
 *
 * Lifecycle: init → boot (compile plan, import apps, listen) → ready → serving
 * → drain (stop accepting, finish in-flight requests, close idle keep-alive
 * connections) → exit 0. A boot failure exits with a named code so the master
 * can tell "the app is broken" from "the worker crashed".
 */
import type { Server } from 'node:net';
import { Server as NetServer, type Socket } from 'node:net';
import type { ServePlan } from '../config/plan.ts';
import { ExitCode, KirinError } from '../errors.ts';
import { HEARTBEAT_MS, INSPECTABLE_WORKER_FLAGS, type ListenerFd, type MasterMessage, type RetireReason, type WorkerMessage } from '../ipc.ts';
import { AccessLog } from '../observe/access-log.ts';
import { forwardAppError } from '../observe/app-errors.ts';
import { createDeferredLogger, type Logger } from '../observe/log.ts';
import { WorkerMetrics } from '../observe/worker-metrics.ts';
import { RelayWorker } from '../relay/relay-worker.ts';
import { addressOfListener, interceptAppListens } from './app-listen.ts';
import { ClientResolver } from './client.ts';
import type { WorkerServices } from './context.ts';
import { compilePlan, type CompiledPlan } from './compile.ts';
import { useCompileCache } from '../handlers/app/compile-cache.ts';
import { Pipeline } from './pipeline.ts';
import { createHttpServer, listenOnFd } from './servers.ts';
import { webSockets } from './websockets.ts';
import { installStickyGate, type StickyGate } from './sticky/gate.ts';
import { peerChannel } from './sticky/peer-channel.ts';
import type { Server as HttpServer } from 'node:http';

type InitMessage = Extract<MasterMessage, { t: 'init' }>;

/** How long before the graceful deadline open WebSockets get 1001 (a quarter of the timeout when it is short). */
const WEBSOCKET_CLOSE_MS = 1000;
/** Without a watchdog (`kirin dev` by default) silence means nothing: only a heartbeat, this seldom, for `kirin status`. */
const UNWATCHED_HEARTBEAT_MS = 5_000;

class WorkerProcess implements WorkerServices {
  readonly #logger: Logger;
  readonly #init: InitMessage;
  readonly #plan: ServePlan;
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #pushListeners = new Map<string, ((payload: unknown) => void)[]>();
  /** By listener index, with `sticky`: where connections handed over by other workers come in. */
  readonly #stickyGates = new Map<number, StickyGate>();
  #nextAskId = 1;
  #pipeline: Pipeline | null = null;
  #compiled: CompiledPlan | null = null;
  #accessLog: AccessLog | null = null;
  #metrics: WorkerMetrics | null = null;
  #relay: RelayWorker | null = null;
  /** With `sticky`: the hop to other workers for requests of their Socket.IO sessions (sticky/forward.ts). */
  #forwarder: import('./sticky/forward.ts').SessionForwarder | null = null;
  #retired = false;
  #draining = false;
  /** `kirin dev`'s part of the worker (src/dev/worker.ts), loaded only in dev. */
  #dev: import('../dev/worker.ts').DevWorker | null = null;

  constructor(init: InitMessage) {
    this.#init = init;
    this.#plan = init.plan;
    // A watched worker's stderr is a pipe to the master (src/master/worker-stderr.ts), which says whether it ends at a terminal.
    const pretty = process.env.KIRIN_STDERR_TTY === undefined ? undefined : process.env.KIRIN_STDERR_TTY === '1';
    this.#logger = createDeferredLogger({ level: init.plan.logLevel, role: 'worker', pretty }, { worker: init.index, generation: init.generation });
  }

  async boot(): Promise<void> {
    const plan = this.#plan;
    if (plan.relay) return this.#bootRelay();
    const resolver = new ClientResolver(plan.trustedProxies);
    this.#accessLog = plan.accessLog ? new AccessLog(plan.accessLog) : null;
    this.#metrics = new WorkerMetrics();
    const servedAt = this.#init.listeners[0]?.spec ?? 'its listeners';
    interceptAppListens({ address: addressOfListener(servedAt), servedAt, logger: this.#logger, announce: this.#init.index === 1 });
    const saveCompileCache = useCompileCache(plan.stateDir);
    if (plan.dev) {
      // Before the apps are imported: the module hook must see them load.
      const { DevWorker } = await import('../dev/worker.ts');
      this.#dev = new DevWorker(plan, this.#init.generation, this.#init.listeners, this.#logger, (type, payload) => this.notify(type, payload));
    }
    this.#compiled = await compilePlan(
      plan,
      this.#logger,
      (type, payload) => this.ask(type, payload),
      (type, payload) => this.notify(type, payload),
    );
    // Loaded with `sticky` only: it brings the proxy's exchange (and undici) into the worker.
    this.#forwarder = plan.sticky ? new (await import('./sticky/forward.ts')).SessionForwarder(plan.stateDir, this.#logger) : null;
    const pipeline = new Pipeline({
      sites: this.#compiled.sites,
      resolver,
      forwarder: this.#forwarder,
      limits: plan.limits,
      logger: this.#logger,
      accessLog: this.#accessLog,
      observer: this.#metrics,
    });
    saveCompileCache();
    this.#pipeline = pipeline;
    const endsEmptyRequests = this.#compiled.endsEmptyRequests;
    for (const [index, listener] of this.#init.listeners.entries()) {
      // TLS, HTTP/2 and the PROXY protocol are loaded by the workers whose listeners use them (node:tls and node:http2 weigh ~9 MB).
      const server = listener.secure
        ? await (await import('../tls/server.ts')).createSecureServer(listener, pipeline, plan, this, endsEmptyRequests)
        : createHttpServer(pipeline, plan.limits, this.#logger, endsEmptyRequests);
      if (listener.proxyProtocol) (await import('../relay/proxy-listener.ts')).expectProxyHeader(server, { trustedProxies: plan.trustedProxies, timeoutMs: plan.limits.headerTimeoutMs, logger: this.#logger });
      // The gate reads a connection's first request line: plain HTTP only; other listeners forward (docs/app-server.md, "Socket.IO").
      else if (plan.sticky && !listener.secure) this.#stickyGates.set(index, installStickyGate(server as HttpServer, index, plan.limits.headerTimeoutMs, this.#logger));
      this.#track(server);
      await listenOnFd(server, listener.fd);
      this.#servers.push(server);
    }
    if (this.#forwarder !== null) {
      const { listenForPeers } = await import('./sticky/peer-server.ts');
      const peers = await listenForPeers(plan.stateDir, pipeline, plan.limits, this.#logger, endsEmptyRequests);
      // Drained as a listener: it stops taking forwarded requests (they are then served where they land) and finishes those in flight.
      if (peers !== null) {
        this.#track(peers);
        this.#servers.push(peers);
      }
    }
    // After the listeners: the TLS runtime sets beforeRoute there, and dev's goes in front of it.
    this.#dev?.attach(pipeline);
    // Read by the master's watchdog through the inspector while this thread is stuck (src/master/worker-inspector.ts).
    (globalThis as Record<symbol, unknown>)[Symbol.for('kirin.inflight')] = () => this.#describeInflight();
    this.#startHeartbeat();
    this.#dev?.beforeReady();
    this.send({ t: 'ready' });
    this.#logger.debug({ listeners: this.#init.listeners.map((l) => l.spec) }, 'worker ready');
  }

  /** Counts the server's connections as the worker's open ones (drain, in-flight counts). */
  #track(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** The relay role: no sites, no pipeline; whole connections forwarded home (src/relay/relay-worker.ts). */
  async #bootRelay(): Promise<void> {
    const relay = new RelayWorker({ plan: this.#plan, listeners: this.#init.listeners, logger: this.#logger, notify: (type, payload) => this.notify(type, payload) });
    this.#relay = relay;
    await relay.start();
    this.#startHeartbeat();
    this.send({ t: 'ready' });
  }

  send(message: WorkerMessage): void {
    if (process.connected) process.send!(message);
  }

  /** Asks the master something and waits for the answer. */
  ask<T>(type: string, payload: unknown): Promise<T> {
    const id = this.#nextAskId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ t: 'ask', id, type, payload });
    });
  }

  notify(type: string, payload: unknown): void {
    this.send({ t: 'event', type, payload });
  }

  /** Subscribes to messages the master pushes (certificates, …). */
  onPush(type: string, listener: (payload: unknown) => void): void {
    const list = this.#pushListeners.get(type) ?? [];
    list.push(listener);
    this.#pushListeners.set(type, list);
  }

  get logger(): Logger {
    return this.#logger;
  }

  handle(message: MasterMessage, handle?: Socket): void {
    switch (message.t) {
      case 'sticky': {
        const gate = this.#stickyGates.get(message.listener);
        if (handle && gate) gate.adopt(handle, Buffer.from(message.data, 'latin1'), message.orphan === true);
        else handle?.destroy();
        break;
      }
      case 'peers':
        peerChannel.receive(message.data);
        break;
      case 'drain':
        void this.drain('the master asked');
        this.#dev?.drain();
        break;
      case 'reopen-logs':
        this.#accessLog?.reopen();
        break;
      case 'reply': {
        const pending = this.#pending.get(message.id);
        if (!pending) break;
        this.#pending.delete(message.id);
        if (message.ok) pending.resolve(message.value);
        else pending.reject(new Error(message.error ?? 'the master refused'));
        break;
      }
      case 'push':
        for (const listener of this.#pushListeners.get(message.type) ?? []) listener(message.payload);
        break;
      case 'init':
        break;
    }
  }

  /** Tells the master this worker should be replaced; it keeps serving until told to drain. */
  retire(reason: RetireReason, detail?: string): void {
    if (this.#retired) return;
    this.#retired = true;
    this.send({ t: 'retire', reason, detail });
  }

  async drain(why: string): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#logger.debug({ why }, 'draining');
    const pipeline = this.#pipeline;
    if (pipeline) pipeline.draining = true;
    const graceful = this.#plan.gracefulTimeoutMs;
    const deadline = setTimeout(() => this.exit(ExitCode.OK, 'graceful timeout reached with requests still in flight'), graceful);
    deadline.unref();
    // Open WebSockets stay until the graceful timeout, then hear 1001 early enough to answer before the worker exits.
    webSockets.refusing = true;
    setTimeout(() => webSockets.goingAway(), graceful - Math.min(WEBSOCKET_CLOSE_MS, graceful / 4)).unref();
    if (this.#relay) {
      await this.#relay.drain();
      this.exit(ExitCode.OK, 'drained');
    }
    // Stop accepting, but do not close idle keep-alive connections yet: a client may be sending on one right now.
    const closed = Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()))));
    const sweep = setInterval(() => this.#closeIdle(), 250);
    // Busy connections get "Connection: close" on their next response; one that stays idle this long is idle.
    setTimeout(() => this.#closeIdle(), Math.min(1000, this.#plan.limits.keepAliveTimeoutMs)).unref();
    for (const server of this.#servers) (server as { closeSessions?: () => void }).closeSessions?.();
    await closed;
    clearInterval(sweep);
    this.#forwarder?.close();
    await Promise.all((this.#compiled?.handlers ?? []).map((h) => h.close?.()));
    this.exit(ExitCode.OK, 'drained');
  }

  #idleSince = new WeakMap<Socket, number>();

  #closeIdle(): void {
    const now = Date.now();
    for (const socket of this.#sockets) {
      const busy = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
      // An open WebSocket is not an idle keep-alive connection: it hears 1001 near the graceful deadline instead.
      if (busy || webSockets.has(socket)) {
        this.#idleSince.delete(socket);
        continue;
      }
      const since = this.#idleSince.get(socket);
      if (since === undefined) this.#idleSince.set(socket, now);
      else if (now - since >= 500) socket.destroySoon();
    }
  }

  exit(code: number, why: string): never {
    this.#logger.debug({ code, why }, 'worker exiting');
    this.#accessLog?.close();
    this.#logger.flush();
    process.exit(code);
  }

  /** The master's watchdog kills a worker that stays silent longer than the timeout, and asks it what blocked it first. */
  #startHeartbeat(): void {
    const watched = !(this.#plan.dev !== null && this.#plan.timeoutMs <= 0);
    setInterval(() => this.#heartbeat(), watched ? HEARTBEAT_MS : UNWATCHED_HEARTBEAT_MS).unref();
    this.#heartbeat();
  }

  #heartbeat(): void {
    const relay = this.#relay;
    const served = relay ? relay.accepted : this.#pipeline!.served;
    const rss = process.memoryUsage.rss();
    this.send({ t: 'hb', served, inflight: relay ? relay.inflight : this.#countInflight(), websockets: webSockets.count, rss, metrics: this.#metrics?.drain() });
    const maxRequests = this.#init.maxRequests;
    if (maxRequests > 0 && served >= maxRequests) this.retire('max-requests', `${served} requests served`);
  }

  #countInflight(): number {
    let n = 0;
    for (const socket of this.#sockets) if ((socket as Socket & { _httpMessage?: unknown })._httpMessage) n++;
    return n;
  }

  #describeInflight(): string[] {
    const out: string[] = [];
    const current = this.#pipeline?.current;
    if (current) out.push(`${current.method} ${current.host}${current.target} (running now)`);
    for (const socket of this.#sockets) {
      const res = (socket as Socket & { _httpMessage?: { req?: { method?: string; url?: string; headers?: { host?: string } } } })._httpMessage;
      const req = res?.req;
      if (req && req !== current?.req) out.push(`${req.method} ${req.headers?.host ?? ''}${req.url}`);
    }
    return out;
  }
}

let worker: WorkerProcess | null = null;

function bootFailure(error: unknown): never {
  const isAppError = error instanceof KirinError && (error.code === 'KIRIN_ERR_APP_LOAD' || error.code === 'KIRIN_ERR_APP_EXPORT');
  const exitCode = isAppError ? ExitCode.APP_LOAD_ERROR : ExitCode.WORKER_BOOT_ERROR;
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : null;
  const message: WorkerMessage = {
    t: 'boot-error',
    code: error instanceof KirinError ? error.code : 'KIRIN_ERR_BOOT',
    message: error instanceof Error ? error.message : String(error),
    stack: (cause ?? (error as Error))?.stack ?? String(error),
    exitCode,
  };
  if (process.connected) process.send!(message, () => process.exit(exitCode));
  else process.exit(exitCode);
  // Wait for the message to leave; process.exit above ends us.
  return undefined as never;
}

process.on('message', (message: MasterMessage, handle?: Socket) => {
  if (message.t === 'init') {
    if (worker) return;
    worker = new WorkerProcess(message);
    worker.boot().catch(bootFailure);
    return;
  }
  worker?.handle(message, handle);
});

// The master went away (killed, crashed): stop accepting at once — the listening socket is freed for the
// next master — finish what is in flight and leave. Nothing may live on unsupervised holding the port.
process.on('disconnect', () => {
  if (!worker) process.exit(ExitCode.OK);
  worker.logger.warn('the master is gone (the IPC channel closed): no longer accepting; exiting once the requests in flight are done');
  void worker.drain('the master is gone');
});

process.on('SIGTERM', () => {
  if (worker) void worker.drain('SIGTERM');
  else process.exit(ExitCode.OK);
});
for (const signal of ['SIGINT', 'SIGQUIT'] as const) {
  process.on(signal, () => (worker ? worker.exit(ExitCode.OK, signal) : process.exit(ExitCode.OK)));
}
// The master handles these; a worker must not die of them. SIGUSR1 is left to Node in a worker the watchdog may
// inspect: a listener would keep Node from opening the inspector, and removing one later leaves SIGUSR1 fatal.
const inspectable = INSPECTABLE_WORKER_FLAGS.every((flag) => process.execArgv.includes(flag));
for (const signal of ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU', 'SIGWINCH'] as const) {
  if (!(signal === 'SIGUSR1' && inspectable)) process.on(signal, () => {});
}

process.on('uncaughtException', (error) => {
  if (!worker) bootFailure(error);
  worker.logger.error({ err: error }, 'uncaught exception in the app; this worker will be replaced');
  forwardAppError((type, payload) => worker!.notify(type, payload), null, error);
  worker.retire('uncaught-exception', error?.message);
});
process.on('unhandledRejection', (reason) => {
  if (worker) worker.logger.error({ err: reason }, 'unhandled promise rejection in the app');
  else console.error('unhandled promise rejection', reason);
});

export type { ListenerFd };
