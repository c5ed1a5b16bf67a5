/**
 * The listening servers of a worker, on descriptors the master opened (or
 * systemd passed): every worker of every generation accepts from the same
 * sockets, so a worker that stops accepting leaves nothing queued behind.
 */
import type { Server, ServerResponse } from 'node:http';
import { createServer } from '../util/node-http.ts';
import type { Socket } from 'node:net';
import type { LimitsPlan } from '../config/plan.ts';
import type { Logger } from '../observe/log.ts';
import { listenForReal } from './app-listen.ts';
import { writeRawError } from './error-response.ts';
import { installFastLane } from './fast-lane.ts';
import { KirinIncomingMessage } from './incoming.ts';
import { KirinServerResponse } from './outgoing.ts';
import type { Pipeline } from './pipeline.ts';
import { enforceHttp1SendTimeout } from './send-timeout.ts';

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request head too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request not received in time'],
  HPE_HEADERS_TIMEOUT: [408, 'headers not received in time'],
};

/**
 * HTTP/1.1 settings of every listener, plain or TLS (tls/server.ts passes them
 * to its HTTP/1.1 side).
 *
 * `endsEmptyRequests` turns on node:http's `optimizeEmptyRequests`: a request
 * without Content-Length or Transfer-Encoding (nearly every GET) starts as an
 * ended, closed stream, without the Readable life cycle's events and ticks —
 * about a sixth of the instructions node:https spends on a keep-alive request
 * (docs/benchmarks.md). Such a request never emits 'data', 'end' or 'close', so
 * it is on only while no route hands Node's request object to user code (a
 * Node listener app, which may wait for them); Kirin's own handlers read a body
 * only when the head announces one, and watch the response for a client that
 * leaves. Node versions without the option ignore it.
 */
export function http1Options(limits: LimitsPlan, endsEmptyRequests: boolean) {
  return {
    optimizeEmptyRequests: endsEmptyRequests,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    headersTimeout: limits.headerTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    maxHeaderSize: limits.maxHeaderSize,
    // How often Node checks the two timeouts above; its default (30 s) would let a slowloris linger.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(limits.headerTimeoutMs / 4))),
    requireHostHeader: true,
    IncomingMessage: KirinIncomingMessage,
    // The response class's type is tied to http's own request class; the runtime pairing is what matters.
    ServerResponse: KirinServerResponse as unknown as typeof ServerResponse<KirinIncomingMessage>,
  };
}

/**
 * A plain HTTP/1.1 server: for clients on a listener, or for the requests
 * other workers forward to this one over its peer socket (`'workers'`,
 * sticky/peer-server.ts), which enter the pipeline where their forwarding
 * headers are believed, and need no fast lane (only app requests come that way).
 */
export function createHttpServer(pipeline: Pipeline, limits: LimitsPlan, logger: Logger, endsEmptyRequests: boolean, from: 'clients' | 'workers' = 'clients'): Server {
  const fromWorkers = from === 'workers';
  const server = createServer(http1Options(limits, endsEmptyRequests), fromWorkers ? pipeline.onPeerRequest : pipeline.onRequest);
  if (!fromWorkers) installFastLane(server, pipeline, limits);
  // Node stops counting past maxHeadersCount; one more than the limit lets the pipeline see the excess and answer 431.
  server.maxHeadersCount = limits.maxHeaders + 1;
  server.on('upgrade', fromWorkers ? pipeline.onPeerUpgrade : pipeline.onUpgrade);
  // Kirin is not a forward proxy: CONNECT tunnels are refused, never opened.
  server.on('connect', (_req: unknown, socket: Socket) => writeRawError(socket, 405, 'CONNECT is not supported'));
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket, logger));
  enforceHttp1SendTimeout(server, 'connection', limits.sendTimeoutMs, logger);
  return server;
}

/** A request Node's parser refused (malformed, too large, too slow): answer and close; the worker carries on. */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket, logger: Logger): void {
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'malformed request'];
  logger.debug({ code: error.code, peer: socket.remoteAddress }, `refused a request: ${reason}`);
  writeRawError(socket, status, reason);
}

export function listenOnFd(server: import('node:net').Server, fd: number): Promise<void> {
  return listenAt(server, { fd });
}

/** Binds one of Kirin's own servers to a descriptor or a unix socket path. */
export function listenAt(server: import('node:net').Server, where: { fd: number } | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Past the interception of the app's own listen() calls (app-listen.ts).
    listenForReal(server, where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
