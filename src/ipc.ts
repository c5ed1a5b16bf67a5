/**
 * Messages between the master and its workers (over the IPC channel), and what
 * the master learns about a worker whose blocked main thread cannot send
 * anything (src/master/worker-inspector.ts).
 */
import type { ServePlan } from './config/plan.ts';

export interface ListenerFd {
  /** The descriptor number inside the worker. */
  fd: number;
  secure: boolean;
  spec: string;
  /** Connections start with a PROXY protocol v2 header (src/relay/proxy-listener.ts). */
  proxyProtocol?: boolean;
}

/** Descriptor layout of a worker: 0-2 stdio, 3 IPC, 4+ listeners. */
export const FIRST_LISTENER_FD = 4;

/** A worker reports this often; the master allows one report's lateness before it calls a worker silent. */
export const HEARTBEAT_MS = 1000;

/**
 * The Node flags of a worker the watchdog may inspect: SIGUSR1 opens the
 * inspector on a random loopback port, and its WebSocket URL — whose random
 * UUID is the only key to it — is printed on the worker's stderr, which only
 * the master reads, and nowhere else (not on the port's /json/list).
 */
export const INSPECTABLE_WORKER_FLAGS = ['--inspect-port=127.0.0.1:0', '--inspect-publish-uid=stderr'] as const;

export type MasterMessage =
  | { t: 'init'; plan: ServePlan; generation: number; index: number; listeners: ListenerFd[]; maxRequests: number }
  | { t: 'drain' }
  | { t: 'reopen-logs' }
  | { t: 'reply'; id: number; ok: boolean; value?: unknown; error?: string }
  | { t: 'push'; type: string; payload: unknown }
  /** With the connection's handle: a connection another worker accepted for a Socket.IO session of this one (src/worker/sticky/). */
  | StickyConnection
  /** From another worker's Socket.IO adapter (src/worker/sticky/peer-channel.ts). */
  | { t: 'peers'; data: string };

/**
 * A connection handed over for sticky routing, with the bytes already read from
 * it. `listener` is the index of the listener that accepted it; `orphan` is set
 * when the master found no live owner and sent it back to be served where it landed.
 */
export interface StickyConnection {
  t: 'sticky';
  owner: number;
  listener: number;
  data: string;
  orphan?: boolean;
}

export interface WorkerStats {
  served: number;
  inflight: number;
  /** Open WebSockets of the apps in this worker. */
  websockets: number;
  rss: number;
  /** Metrics since the last heartbeat (observe/metrics.ts). */
  metrics?: unknown;
}

export type WorkerMessage =
  | { t: 'ready' }
  | { t: 'boot-error'; code: string; message: string; stack: string; exitCode: number }
  | ({ t: 'hb' } & WorkerStats)
  | { t: 'retire'; reason: RetireReason; detail?: string }
  | { t: 'ask'; id: number; type: string; payload: unknown }
  | { t: 'event'; type: string; payload: unknown }
  /** With the connection's handle, for the master to pass to the worker whose pid is `owner`. */
  | StickyConnection
  /** For every other worker's Socket.IO adapter; the master relays it as it is. */
  | { t: 'peers'; data: string };

export type RetireReason = 'max-requests' | 'memory' | 'uncaught-exception';

/** What the master reads from a worker whose event loop has been blocked for a while (src/master/worker-inspector.ts). */
export interface StallReport {
  t: 'stall';
  /** How long the worker had been silent (no heartbeat) when the report was made. */
  blockedMs: number;
  /** 'GET /slow' for each request in progress; the one running now first when known. */
  requests: string[];
  /** The JavaScript stack the main thread is stuck in, if it could be reached (it cannot in a blocking system call). */
  stack: string[];
}
