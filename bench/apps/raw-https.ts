/**
 * The HTTPS ceiling for a Node server (bench/tls.ts): node:https with the
 * hello listener and Node's TLS defaults (session tickets on). CERT and KEY
 * (file paths), HOST and PORT from the environment.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import hello from './hello-node.ts';

createServer({ cert: readFileSync(process.env.CERT!), key: readFileSync(process.env.KEY!) }, hello).listen(Number(process.env.PORT ?? 8443), process.env.HOST ?? '127.0.0.1');
