/** The same echo as an app Kirin serves: the listener, and setup(server) for the WebSockets (docs/app-server.md). */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { attachEcho } from './ws-echo.ts';

export default (_req: IncomingMessage, res: ServerResponse) => res.end('ok');
export function setup(server: Server): void {
  attachEcho(server);
}
