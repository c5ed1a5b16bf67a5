/**
 * Sticky routing of Socket.IO sessions between workers (`sticky: true`).
 *
 * Every worker accepts from the same listening sockets, so the requests of one
 * Socket.IO session (`/socket.io/?EIO=4&transport=polling&sid=…`, and the
 * upgrade with that sid) land on any worker, and only the one that created the
 * session knows it. The session id names its worker (session-id.ts). On a
 * plain HTTP listener the gate reads a new connection's first line before
 * anything else does: when its sid belongs to another worker, the connection's
 * handle and the bytes already read go to the master, which passes them to
 * that worker (as @socket.io/sticky and node:cluster pass handles); there the
 * bytes are replayed into the same connection handling a fresh connection
 * gets. Connections without a foreign sid go on at once, in this worker.
 *
 * A later request on a kept-alive connection is not looked at here; the app
 * handler answers one that belongs elsewhere with a redirect to itself on a
 * new connection (mayRedirect below).
 *
 * Connections the gate cannot read — TLS (whose first line is encrypted, and
 * whose session cannot move) and PROXY protocol listeners — are not gated:
 * their requests for another worker are forwarded to it once parsed
 * (forward.ts).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { StickyConnection } from '../../ipc.ts';
import type { Logger } from '../../observe/log.ts';
import { foreignOwner } from './session-id.ts';

type ConnectionListener = (this: Server, socket: Socket) => void;
type ReadingHandle = { reading: boolean; readStop(): number };

/** A request line longer than this is not a Socket.IO one: the connection stays here. */
const MAX_FIRST_LINE = 8192;

/** Connections whose first line the gate read: their requests for other workers are the gate's to route. */
const gated = new WeakSet<Socket>();
/** Connections the master sent back because their session's worker is gone: served here, never redirected. */
const orphans = new WeakSet<Socket>();

export interface StickyGate {
  /** Takes a connection the master passed to this worker, with the bytes read from it elsewhere. */
  adopt(socket: Socket, bytes: Buffer, orphan: boolean): void;
}

/**
 * Puts the gate in front of `server`'s connection handling (after the fast
 * lane is installed, before anyone else listens for 'connection').
 * `handOff` sends a connection to the master for the worker `owner`.
 */
export function installStickyGate(server: Server, listener: number, headerTimeoutMs: number, logger: Logger): StickyGate {
  const inner = server.listeners('connection') as ConnectionListener[];
  server.removeAllListeners('connection');
  const pass = (socket: Socket, bytes: Buffer) => {
    gated.add(socket);
    for (const handle of inner) handle.call(server, socket);
    // The connection's own handling takes the bytes read so far first; it resumes reading when it is ready for more.
    socket.emit('data', bytes);
  };
  const adopted = new WeakSet<Socket>();
  server.on('connection', (socket: Socket) => {
    if (adopted.has(socket)) return;
    readFirstLine(socket, headerTimeoutMs, (bytes) => {
      const owner = foreignOwner(firstLine(bytes));
      if (owner === 0 || !process.connected) return pass(socket, bytes);
      handOff(socket, { t: 'sticky', owner, listener, data: bytes.toString('latin1') }, logger);
    });
  });
  return {
    adopt(socket, bytes, orphan) {
      if (orphan) orphans.add(socket);
      adopted.add(socket);
      // Counted as one of the listener's own connections, so a draining worker waits for it as for those
      // (node:net does this for the connections it accepts, and undoes it when the socket is destroyed).
      const counted = socket as Socket & { _server: unknown };
      counted._server = server;
      (server as Server & { _connections: number })._connections++;
      // The tracking listeners (the worker's open connections) see it as they see an accepted one.
      server.emit('connection', socket);
      socket.pause();
      pass(socket, bytes);
    },
  };
}

/**
 * True for a connection the gate routes: plain HTTP, first line read here.
 * Its later requests for another worker are redirected through the gate
 * again (mayRedirect), or served here when that worker is gone; never
 * forwarded.
 */
export function routedByGate(socket: Socket): boolean {
  return gated.has(socket);
}

/** True for a connection whose requests for another worker the app handler may redirect: gated, and not sent back for want of an owner. */
export function mayRedirect(socket: Socket): boolean {
  return gated.has(socket) && !orphans.has(socket);
}

/** Reads until the request line is complete (or long enough to say it is not Socket.IO's), then stops reading. */
function readFirstLine(socket: Socket, timeoutMs: number, done: (bytes: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let length = 0;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    if (chunk.indexOf(10) === -1 && length < MAX_FIRST_LINE) return;
    stopReading(socket);
    cleanUp();
    done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
  };
  const onGone = () => {
    cleanUp();
    socket.destroy();
  };
  const cleanUp = () => {
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('error', onGone);
    socket.off('timeout', onGone);
    socket.setTimeout(0);
  };
  socket.on('data', onData);
  socket.on('end', onGone);
  socket.on('error', onGone);
  // A connection that never completes a line is bounded as one that never completes its head.
  socket.on('timeout', onGone);
  socket.setTimeout(timeoutMs);
}

/**
 * Stops reading in the stream and in the handle underneath: libuv reads no
 * further chunk in this pass, so nothing after the bytes in hand is taken
 * from the kernel before the connection moves (net's pause() alone keeps the
 * handle reading into the stream's buffer).
 */
function stopReading(socket: Socket): void {
  socket.pause();
  const handle = (socket as Socket & { _handle?: ReadingHandle | null })._handle;
  if (handle?.reading) {
    handle.reading = false;
    handle.readStop();
  }
}

function firstLine(bytes: Buffer): string {
  const end = bytes.indexOf(10);
  return bytes.toString('latin1', 0, end === -1 ? bytes.length : end);
}

function handOff(socket: Socket, message: StickyConnection, logger: Logger): void {
  // Without its server, node:net sends the bare handle (no connection counting across processes).
  (socket as Socket & { server: unknown }).server = null;
  process.send!(message, socket, {}, (error) => {
    if (error) logger.debug({ err: error }, 'could not hand a Socket.IO connection to its worker');
    // The handle has left (or the channel failed): what remains here is the stream, which the listener still counts.
    socket.destroy();
  });
}
