/**
 * `kirin/hono`: Hono's WebSocket helper on Kirin, for apps that would import it
 * from 'hono/bun' (which cannot load on Node: it reads the `Bun` global).
 *
 *   import { upgradeWebSocket, websocket } from 'kirin/hono';
 *   app.get('/ws', upgradeWebSocket((c) => ({ onMessage(event, ws) { ws.send(`echo ${event.data}`) } })));
 *   export default { fetch: app.fetch, websocket };
 *
 * It speaks Kirin's Bun-style API (handlers/app/bun-websocket.ts): the route's
 * fetch gets `server.upgrade` as its second argument (Hono's `c.env`), and the
 * exported `websocket` handlers call the events the route defined. Hono is the
 * app's dependency, not Kirin's: this module is only loaded by apps that use it.
 */
import type { Context } from 'hono';
import { createWSMessageEvent, defineWebSocketHelper, WSContext, type WSEvents } from 'hono/ws';
import type { BunWebSocketHandlers, ServerWebSocket, UpgradeOptions } from './handlers/app/bun-websocket.ts';

interface SocketData {
  events: WSEvents<ServerWebSocket>;
  url: URL;
  protocol: string;
}

interface Upgrader {
  upgrade(request: Request, options?: UpgradeOptions): boolean;
}

function contextOf(ws: ServerWebSocket): WSContext<ServerWebSocket> {
  const data = ws.data as SocketData;
  return new WSContext({
    send: (source, options) => void ws.send(source as string | ArrayBuffer, options?.compress),
    raw: ws,
    readyState: ws.readyState as 0 | 1 | 2 | 3,
    url: data.url,
    protocol: data.protocol,
    close: (code, reason) => ws.close(code, reason),
  });
}

export const upgradeWebSocket = defineWebSocketHelper<ServerWebSocket>((c: Context, events) => {
  const server = c.env as Upgrader | undefined;
  if (typeof server?.upgrade !== 'function') throw new TypeError('kirin/hono: c.env is not Kirin\'s server; export default { fetch: app.fetch, websocket } and serve it with Kirin');
  const data: SocketData = { events, url: new URL(c.req.url), protocol: c.req.header('sec-websocket-protocol')?.split(',')[0]?.trim() ?? '' };
  if (server.upgrade(c.req.raw, { data })) return new Response(null);
  return undefined;
});

function run(ws: ServerWebSocket, handler: () => unknown): void {
  const onError = (ws.data as SocketData).events.onError;
  const fail = (error: unknown) => {
    if (!onError) throw error;
    const event = new Event('error') as Event & { error?: unknown };
    event.error = error;
    onError(event, contextOf(ws));
  };
  try {
    const result = handler();
    if (result instanceof Promise) result.catch(fail);
  } catch (error) {
    fail(error);
  }
}

export const websocket: BunWebSocketHandlers = {
  open(ws) {
    const { onOpen } = (ws.data as SocketData).events;
    if (onOpen) run(ws, () => onOpen(new Event('open'), contextOf(ws)));
  },
  message(ws, message) {
    const { onMessage } = (ws.data as SocketData).events;
    if (onMessage) run(ws, () => onMessage(createWSMessageEvent(typeof message === 'string' ? message : (message.buffer as ArrayBuffer)), contextOf(ws)));
  },
  close(ws, code, reason) {
    const { onClose } = (ws.data as SocketData).events;
    if (onClose) run(ws, () => onClose(new CloseEvent('close', { code, reason }), contextOf(ws)));
  },
};
