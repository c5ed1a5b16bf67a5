/**
 * The ceiling: a bare node:http server with the hello listener, nothing else.
 * HOST and PORT from the environment. Also started by PM2 (cluster mode).
 */
import { createServer } from 'node:http';
import hello from './hello-node.ts';

createServer(hello).listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? '127.0.0.1');

// A normal exit on TERM, so `--cpu-prof` (bench/profile.ts raw) gets to write its profile.
process.once('SIGTERM', () => process.exit(0));
