/**
 * An https listener of a worker: TLS with Mozilla's intermediate settings,
 * HTTP/2 and HTTP/1.1 by ALPN on one socket (http2.createSecureServer with
 * allowHTTP1), the certificate chosen by SNI from what the master handed this
 * worker, TLS-ALPN-01 validations answered with the challenge certificate, and
 * session tickets every worker can resume.
 *
 * Both protocols reach the same pipeline: over HTTP/2 it gets Node's
 * compatibility request and response, which mirror node:http's.
 */
import http2, { type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { ServePlan } from '../config/plan.ts';
import type { ListenerFd } from '../ipc.ts';
import type { NodeResponse, WorkerServices } from '../worker/context.ts';
import type { Pipeline } from '../worker/pipeline.ts';
import { sendError, writeRawError } from '../worker/error-response.ts';
import { answerClientError, http1Options } from '../worker/servers.ts';
import { Http2Response, TlsResponse } from './responses.ts';
import { ACME_TLS_ALPN, SECURE_CONTEXT_OPTIONS } from './profile.ts';
import { KirinHttp2ServerRequest } from './http2-request.ts';
import { enforceSendTimeout } from './send-timeout.ts';
import { enforceHttp1SendTimeout } from '../worker/send-timeout.ts';
import { TICKET_ROTATION_MS } from './ticket-keys.ts';
import { workerTls } from './worker-tls.ts';

/** An HTTP/2 connection that starts no stream for this long (up to twice as long) gets GOAWAY (nginx: 3 min, Caddy: 5 min). */
const H2_IDLE_MS = 60_000;

export type SecureServer = http2.Http2SecureServer & { closeSessions(): void };

export async function createSecureServer(_listener: ListenerFd, pipeline: Pipeline, plan: ServePlan, worker: WorkerServices, endsEmptyRequests: boolean): Promise<Server> {
  await workerTls.attach(worker, pipeline);
  const limits = plan.limits;
  const server = http2.createSecureServer(
    {
      ...SECURE_CONTEXT_OPTIONS,
      allowHTTP1: true,
      Http2ServerResponse: Http2Response,
      // Kirin's forwarding headers are applied when the app first reads them (worker/incoming.ts).
      Http2ServerRequest: KirinHttp2ServerRequest,
      // TLS handshakes are held to the same clock as request heads (slowloris over TLS).
      handshakeTimeout: limits.headerTimeoutMs,
      // Tickets live as long as the key that seals them.
      sessionTimeout: Math.floor(TICKET_ROTATION_MS / 1000),
      SNICallback(this: TLSSocket, servername: string, done: (error: Error | null, context?: SecureContext) => void) {
        done(null, workerTls.selectContext(this, servername));
      },
      ALPNCallback(this: TLSSocket, { servername, protocols }: { servername: string; protocols: string[] }) {
        return workerTls.chooseProtocol(this, servername, protocols);
      },
      // HTTP/1.1 on this listener: the plain listener's limits and request class (body limits, lazy headers);
      // responses that carry HSTS cheaply (responses.ts).
      ...http1Options(limits, endsEmptyRequests),
      ServerResponse: TlsResponse,
      // HTTP/2: the same head size; room for the pseudo-headers and the excess field, so the pipeline answers 431 as over HTTP/1.1.
      maxHeaderListPairs: Math.max(128, limits.maxHeaders + 8),
      settings: { maxHeaderListSize: limits.maxHeaderSize, maxConcurrentStreams: 128 },
    } as http2.SecureServerOptions,
    pipeline.onRequest as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  ) as SecureServer;
  (server as unknown as { maxHeadersCount: number }).maxHeadersCount = limits.maxHeaders + 1;
  server.on('upgrade', pipeline.onUpgrade as (req: IncomingMessage, socket: Socket, head: Buffer) => void);
  // Kirin is not a forward proxy (as on the plain listener, servers.ts). HTTP/1.1 hands over the socket;
  // HTTP/2 a response on the CONNECT stream, which must not carry an HTTP/1.1 status line as its body.
  server.on('connect', (_req: unknown, socket: Socket | Http2Response) => {
    if (socket instanceof Http2Response) sendError(socket as unknown as NodeResponse, 405, 'CONNECT is not supported');
    else writeRawError(socket, 405, 'CONNECT is not supported');
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    // HTTP/1.1 parse errors get their 4xx; TLS handshake failures (scanners, wrong names) just end.
    if (error.code?.startsWith('HPE_') || error.code === 'ERR_HTTP_REQUEST_TIMEOUT') answerClientError(error, socket, worker.logger);
    else socket.destroy();
  });
  routeValidationHandshakes(server);
  enforceSendTimeout(limits.sendTimeoutMs);
  enforceHttp1SendTimeout(server as unknown as Server, 'secureConnection', limits.sendTimeoutMs, worker.logger);
  trackSessions(server);
  markBusyConnections(server);
  workerTls.addServer(server);
  server.once('listening', () => {
    const address = server.address();
    if (workerTls.httpsPort === null && address !== null && typeof address === 'object') workerTls.httpsPort = address.port;
  });
  return server as unknown as Server;
}

/**
 * Node hands every connection whose ALPN is not http/1.1 to HTTP/2; a
 * TLS-ALPN-01 validation (acme-tls/1) is done once its handshake is, so it is
 * closed here instead of becoming an HTTP/2 session.
 */
function routeValidationHandshakes(server: SecureServer): void {
  const [http2Listener] = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
  server.removeAllListeners('secureConnection');
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === ACME_TLS_ALPN) socket.end();
    else http2Listener!.call(server, socket);
  });
}

/**
 * `closeSessions()` (called by the worker on drain) sends GOAWAY: HTTP/2
 * clients finish their streams and reconnect elsewhere.
 *
 * Idle connections are closed the same way by a sweep, not by Node's session
 * timeout: that one re-arms a timer on every frame read or written, which cost
 * ~1 µs a request. A session whose last stream id has not moved since the
 * previous sweep started nothing new; a graceful close lets a long stream
 * still open (server-sent events) finish.
 */
function trackSessions(server: SecureServer): void {
  const sessions = new Map<Http2Session, number>();
  server.on('session', (session: Http2Session) => {
    sessions.set(session, -1);
    session.once('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  const sweep = setInterval(() => {
    for (const [session, seen] of sessions) {
      if (session.destroyed || session.closed) continue;
      const last = session.state.lastProcStreamID ?? 0;
      if (last === seen) session.close();
      else sessions.set(session, last);
    }
  }, H2_IDLE_MS);
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
  server.closeSessions = () => {
    for (const session of sessions.keys()) session.close();
  };
}

/**
 * The worker tells idle connections from busy ones (to close idle ones on
 * drain, to count requests in flight) by the raw socket's `_httpMessage`, which
 * node:http sets on the socket it parses: here that is the TLS socket, not the
 * raw one the worker sees. Mirror it; an HTTP/2 connection counts as busy
 * while it is open, and closes by itself after `closeSessions()`.
 */
function markBusyConnections(server: SecureServer): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    const raw = (socket as TLSSocket & { _parent?: Socket | null })._parent;
    if (!raw || Object.hasOwn(raw, '_httpMessage')) return;
    Object.defineProperty(raw, '_httpMessage', {
      configurable: true,
      get: () => (socket as TLSSocket & { _httpMessage?: ServerResponse | null })._httpMessage ?? (socket.alpnProtocol === 'h2' && !socket.destroyed ? socket : null),
      set: () => {},
    });
  });
}
