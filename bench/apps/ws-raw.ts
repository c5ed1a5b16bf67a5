/** Raw `ws` on node:http: the ceiling bench/ws.ts compares Kirin with. HOST and PORT from the environment. */
import { createServer } from 'node:http';
import { attachEcho } from './ws-echo.ts';

const server = createServer((_req, res) => res.end('ok'));
attachEcho(server);
server.listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
