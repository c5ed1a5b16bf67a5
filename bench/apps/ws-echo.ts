/** The WebSocket echo both servers of bench/ws.ts run: the `ws` package on an http.Server, echoing each message. */
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';

export function attachEcho(server: Server): void {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
}
