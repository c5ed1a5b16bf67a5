import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RequestContext } from '../../worker/context.ts';
import { webSockets } from '../../worker/websockets.ts';

/** Hands an upgrade Kirin admitted to the app's server, as Node would have. */
export function emitUpgrade(server: Server, ctx: RequestContext, socket: Duplex, head: Buffer): void {
  if (!webSockets.admit(ctx, socket)) return;
  const req = ctx.req as IncomingMessage;
  if (req.url !== ctx.target) req.url = ctx.target;
  server.emit('upgrade', req, socket, head);
}
