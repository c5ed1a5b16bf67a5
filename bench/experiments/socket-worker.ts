/**
 * Prototype worker for bench/experiments/socket-strategies.ts: a hello server
 * that says which process answered (x-worker-pid) and drains the way Kirin's
 * workers do (src/worker/main.ts): stop accepting, answer in-flight requests
 * with `Connection: close`, close connections idle for 500 ms, exit.
 *
 * MODE=shared     listen on the descriptor the master passed (fd 4), as Kirin does
 * MODE=reuseport  open its own socket with SO_REUSEPORT on HOST:PORT
 */
import { createServer } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

const BODY = 'Hello, world!';
const SHARED_FD = 4;
const IDLE_CLOSE_MS = 500;

let draining = false;
const sockets = new Set<Socket>();
const idleSince = new WeakMap<Socket, number>();

const server = createServer((_req, res) => {
  if (draining) res.shouldKeepAlive = false;
  res.writeHead(200, ['content-type', 'text/plain;charset=UTF-8', 'content-length', String(BODY.length), 'x-worker-pid', String(process.pid)]);
  res.end(BODY);
});
server.on('connection', (socket: Socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
});

const ready = () => process.send!({ t: 'ready' });
if (process.env.MODE === 'shared') server.listen({ fd: SHARED_FD }, ready);
else server.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT), reusePort: true }, ready);

process.on('message', (message: { t: string }) => {
  if (message.t !== 'drain' || draining) return;
  draining = true;
  // net.Server's close, not http.Server's: the latter also drops idle keep-alive
  // connections at once, racing a client that is sending on one right now.
  NetServer.prototype.close.call(server, () => process.exit(0));
  setInterval(closeIdle, 250);
});
process.on('disconnect', () => process.exit(0));

function closeIdle(): void {
  const now = Date.now();
  for (const socket of sockets) {
    if ((socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      idleSince.delete(socket);
      continue;
    }
    const since = idleSince.get(socket);
    if (since === undefined) idleSince.set(socket, now);
    else if (now - since >= IDLE_CLOSE_MS) socket.destroySoon();
  }
}
