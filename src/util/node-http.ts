/**
 * node:http's values, taken without Node's bundled fetch. An ESM `import … from
 * 'node:http'` builds the module's namespace, which reads every export — among
 * them http's lazy `WebSocket`, `MessageEvent` and `CloseEvent` — and so loads
 * undici with tls, http2, zlib and perf_hooks: 13 MB of RSS (7 MB of PSS) in
 * every process, master included (Node 24; measured in docs/benchmarks.md).
 * process.getBuiltinModule returns the CommonJS exports and reads nothing.
 *
 * Import node:http's values from here; its types with `import type` from
 * 'node:http' (erased). test/util/node-http.test.ts keeps it that way.
 */
import type * as Http from 'node:http';

const http = process.getBuiltinModule('node:http') as typeof Http;

export const { createServer, STATUS_CODES } = http;
export const Server = http.Server;
export type Server = Http.Server;
export const ServerResponse = http.ServerResponse;
export type ServerResponse = Http.ServerResponse;
export const IncomingMessage = http.IncomingMessage;
export type IncomingMessage = Http.IncomingMessage;
