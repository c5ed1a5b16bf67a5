/**
 * The HTTPS ceiling for a Node server (bench/tls.ts): node:https with the
 * hello listener (with Kirin's HSTS field, so both send the same response) and Node's TLS defaults (session tickets on). CERT and KEY
 * (file paths), HOST and PORT from the environment.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { helloOverTls } from './hello-node.ts';

createServer({ cert: readFileSync(process.env.CERT!), key: readFileSync(process.env.KEY!) }, helloOverTls).listen(Number(process.env.PORT ?? 8443), process.env.HOST ?? '127.0.0.1');

// A normal exit on TERM, so `--cpu-prof` (bench/profile.ts tls-raw) gets to write its profile.
process.once('SIGTERM', () => process.exit(0));
