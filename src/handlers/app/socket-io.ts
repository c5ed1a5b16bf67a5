/**
 * Socket.IO across workers, applied to the app's own Socket.IO when
 * `sticky: true` (docs/app-server.md, "Socket.IO"):
 *
 *  - its engine makes session ids that name this worker (worker/sticky/),
 *    so every worker can route a session's requests to it;
 *  - its adapter is Socket.IO's own cluster adapter (socket.io-adapter's
 *    ClusterAdapterWithHeartbeat, the base of @socket.io/cluster-adapter and
 *    the Redis/Postgres adapters), over Kirin's IPC instead of node:cluster's
 *    or Redis: `io.emit`, rooms, `fetchSockets`, `serverSideEmit` reach every
 *    worker.
 *
 * Both are set on a Socket.IO server attached to the http.Server Kirin hands
 * to `setup(server)`, so the app needs no line of its own. Kirin finds the
 * Socket.IO the app itself loads (resolved from the app's folder, so the
 * same module and version) and wraps `Server.prototype.bind`, which every
 * Socket.IO server calls once with its engine. Kirin has no dependency on
 * Socket.IO: an app that does not use it loads nothing here.
 */
import type { Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import type { Logger } from '../../observe/log.ts';
import { peerChannel } from '../../worker/sticky/peer-channel.ts';
import { newSessionId } from '../../worker/sticky/session-id.ts';

/** The parts of a Socket.IO server Kirin touches. */
interface SocketIOServer {
  httpServer?: unknown;
  engine?: { generateId: (req: unknown) => string };
  adapter(adapter: unknown): unknown;
}

type Bind = (this: SocketIOServer, engine: unknown) => unknown;

interface ClusterMessage {
  uid: string;
  nsp: string;
}

/** An adapter base class of socket.io-adapter ≥ 2.5 (socket.io ≥ 4.7). */
type ClusterAdapterBase = new (nsp: { name: string }, options: { heartbeatInterval: number; heartbeatTimeout: number }) => {
  readonly uid: string;
  readonly nsp: { name: string };
  onMessage(message: ClusterMessage): void;
  onResponse(response: ClusterMessage): void;
  close(): void;
};

/** What peers say through the channel: a message for all, or a response for the adapter that asked. */
type Envelope = { message: ClusterMessage; to?: string };

/** How often adapters tell each other they are alive, and when one that fell silent (its worker exited) is counted out. */
const HEARTBEAT_MS = 2000;
const HEARTBEAT_TIMEOUT_MS = 5000;

const servers = new WeakSet<HttpServer>();
const patched = new WeakSet<object>();

/**
 * Arranges for a Socket.IO server that the app (module `appModule`) attaches
 * to `server` to work across workers. Call before `setup(server)`.
 */
export function clusterSocketIO(appModule: string, server: HttpServer, logger: Logger): void {
  const load = createRequire(appModule);
  let socketIoPath: string;
  try {
    socketIoPath = load.resolve('socket.io');
  } catch {
    return; // Not a Socket.IO app (or one that bundles it: then it is not Kirin's to find).
  }
  const { Server } = load(socketIoPath) as { Server?: { prototype: { bind: Bind } } };
  let Base: ClusterAdapterBase | undefined;
  try {
    Base = (createRequire(socketIoPath)('socket.io-adapter') as { ClusterAdapterWithHeartbeat?: ClusterAdapterBase }).ClusterAdapterWithHeartbeat;
  } catch {
    Base = undefined;
  }
  if (Server === undefined || Base === undefined) {
    logger.warn(`sticky: the app's Socket.IO (${socketIoPath}) is older than 4.7; sessions stick to their worker, but broadcasts stay within one worker`);
  }
  servers.add(server);
  if (Server === undefined || patched.has(Server.prototype)) return;
  patched.add(Server.prototype);
  const adapter = Base ? kirinAdapter(Base) : null;
  const bind = Server.prototype.bind;
  Server.prototype.bind = function (this: SocketIOServer, engine: unknown) {
    const result = bind.call(this, engine);
    if (servers.has(this.httpServer as HttpServer)) {
      if (this.engine) this.engine.generateId = newSessionId;
      if (adapter) this.adapter(adapter);
    }
    return result;
  };
}

/** Socket.IO's cluster adapter over Kirin's IPC (the master relays to every other worker). */
function kirinAdapter(Base: ClusterAdapterBase): ClusterAdapterBase {
  return class KirinAdapter extends Base {
    readonly #unsubscribe: () => void;

    constructor(nsp: { name: string }) {
      super(nsp, { heartbeatInterval: HEARTBEAT_MS, heartbeatTimeout: HEARTBEAT_TIMEOUT_MS });
      this.#unsubscribe = peerChannel.subscribe((envelope) => this.#receive(envelope as Envelope));
    }

    doPublish(message: ClusterMessage): Promise<string> {
      peerChannel.send({ message } satisfies Envelope);
      // No offsets: connection state recovery needs a persistent log (Redis Streams, Postgres), which IPC is not.
      return Promise.resolve('');
    }

    doPublishResponse(requesterUid: string, response: ClusterMessage): Promise<void> {
      peerChannel.send({ message: response, to: requesterUid } satisfies Envelope);
      return Promise.resolve();
    }

    #receive({ message, to }: Envelope): void {
      if (message.nsp !== this.nsp.name || message.uid === this.uid) return;
      if (to === undefined) this.onMessage(message);
      else if (to === this.uid) this.onResponse(message);
    }

    override close(): void {
      this.#unsubscribe();
      super.close();
    }
  };
}
