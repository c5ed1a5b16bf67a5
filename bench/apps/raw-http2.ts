/**
 * The HTTP/2 ceiling for a Node server (bench/tls.ts): node:http2's secure
 * server with the hello listener on its compatibility API (what an app on
 * HTTP/2 gets), sending Kirin's HSTS field too, so both send the same response. CERT, KEY, HOST and PORT from the environment.
 */
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { helloOverTls } from './hello-node.ts';

createSecureServer({ cert: readFileSync(process.env.CERT!), key: readFileSync(process.env.KEY!) }, helloOverTls as never).listen(Number(process.env.PORT ?? 8443), process.env.HOST ?? '127.0.0.1');
