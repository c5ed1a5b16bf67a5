/**
 * nginx's `send_timeout` for HTTP/1.1 (`limits.sendTimeout`): a connection
 * whose client takes none of what is written to it for that long is closed.
 * (HTTP/2 streams have their own sweep: tls/send-timeout.ts.)
 *
 * A client that stops reading leaves the response — an app's buffered body, a
 * proxied upstream, a WebSocket's queued messages — held in the worker for as
 * long as the connection lasts: node:http has no such limit, and a few
 * thousand such connections are a slow-read attack on memory.
 *
 * Progress is what the kernel took: writes whose callback came (bytesWritten
 * minus writableLength) and, within the write in progress, the TCP handle's
 * shrinking write queue — one 8 MB write stays "in progress" while a slow
 * client reads it bit by bit, and must not look stalled. The cost stays off
 * the request path: one Set add and delete per connection, and a sweep every
 * `sendTimeout` that closes connections with output waiting and no progress
 * since the last sweep — between one and two `sendTimeout`s after they stalled.
 */
import type { Server, Socket } from 'node:net';
import type { Logger } from '../observe/log.ts';

/** Open HTTP/1.1 connections, with what they had sent at the last sweep (undefined: nothing was waiting). */
const watched = new Map<Socket, number | undefined>();
let timeoutMs = 0;
let log: Logger | null = null;

/**
 * Watches the HTTP/1.1 connections of `server`: its 'connection' sockets, or
 * for a TLS server its 'secureConnection' ones (the TCP socket below never
 * sees the TLS layer's writes). `ms` 0 leaves it off.
 */
export function enforceHttp1SendTimeout(server: Server, event: 'connection' | 'secureConnection', ms: number, logger: Logger): void {
  if (ms === 0) return;
  if (timeoutMs === 0) {
    timeoutMs = ms;
    log = logger;
    setInterval(sweep, ms).unref();
  }
  server.on(event, (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol === 'h2') return;
    watched.set(socket, undefined);
    socket.on('close', () => watched.delete(socket));
  });
}

function sweep(): void {
  for (const [socket, before] of watched) {
    if (socket.writableLength === 0) {
      if (before !== undefined) watched.set(socket, undefined);
      continue;
    }
    const now = sentSoFar(socket);
    if (now !== before) {
      watched.set(socket, now);
      continue;
    }
    watched.delete(socket);
    log?.debug({ peer: socket.remoteAddress, waiting: socket.writableLength }, `closed a connection whose client took nothing of the response for ${timeoutMs / 1000} s (limits.sendTimeout)`);
    socket.destroy();
  }
}

interface WithQueue {
  _handle?: { writeQueueSize?: number } | null;
  _parent?: WithQueue | null;
}

/** A number that moves whenever the kernel takes bytes of this connection's output. */
function sentSoFar(socket: Socket): number {
  // A TLS socket writes through its TCP socket's handle; that queue is the one that shrinks.
  const tcp = (socket as unknown as WithQueue)._parent ?? (socket as unknown as WithQueue);
  return socket.bytesWritten - socket.writableLength - (tcp._handle?.writeQueueSize ?? 0);
}
