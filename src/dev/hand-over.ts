/**
 * A replaced worker's last job in `kirin dev`: requests that still reach it on
 * keep-alive connections it had are passed to the new generation through the
 * listening socket (which only the new worker accepts from now on), so they
 * get the new code. Closing those connections instead would race with a
 * client sending on them (a reset it would see as a failure); answering with
 * the old code would show the page from before the save. The new worker sees
 * these few requests come from loopback. A request that came over TLS goes
 * over TLS to an https listener, so the new worker sees it as secure (a plain
 * hand-over would be redirected to https, or lose HSTS).
 */
import { request } from 'node:http';
import { request as secureRequest } from 'node:https';
import { isIP } from 'node:net';
import type { ListenerFd } from '../ipc.ts';
import { endToEndHeaders } from '../handlers/proxy/hop-by-hop.ts';
import { sendError } from '../worker/error-response.ts';
import { parseHost } from '../worker/host.ts';
import { arrivedOverTls } from '../worker/pipeline.ts';
import type { NodeRequest, NodeResponse } from '../worker/context.ts';

type Address = { host: string; port: number } | { socketPath: string };

/** Where the new generation accepts, for requests that came in plain and over TLS; null where it has no such listener. */
export interface HandOverTarget {
  plain: Address | null;
  secure: { host: string; port: number } | null;
}

export function handOverTarget(listeners: readonly ListenerFd[]): HandOverTarget {
  const target: HandOverTarget = { plain: null, secure: null };
  for (const listener of listeners) {
    if (listener.proxyProtocol) continue;
    if (!listener.secure && listener.spec.startsWith('unix:')) target.plain ??= { socketPath: listener.spec.slice('unix:'.length) };
    const url = /^(https?):\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(listener.spec);
    if (!url) continue;
    const address = { host: url[2] === '0.0.0.0' ? '127.0.0.1' : url[2] === '::' ? '::1' : url[2]!, port: Number(url[3]) };
    if (url[1] === 'https') target.secure ??= address;
    else target.plain ??= address;
  }
  return target;
}

/** Passes the request on; false when the new generation has no listener of the kind it came in on (it is then served here). */
export function handOver(req: NodeRequest, res: NodeResponse, target: HandOverTarget): boolean {
  const overTls = arrivedOverTls(req);
  const to = overTls ? target.secure : target.plain;
  if (to === null) return false;
  // The client's next request opens a new connection, to the new generation.
  res.shouldKeepAlive = false;
  const headers = endToEndHeaders(req.headers);
  // HTTP/2 carries the host as :authority, which the filter drops with the other pseudo-headers.
  const authority = req.headers[':authority'];
  if (headers.host === undefined && typeof authority === 'string') headers.host = authority;
  const options = { ...to, method: req.method, path: req.url, headers, agent: false as const };
  const onAnswer = (answer: import('node:http').IncomingMessage) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEndHeaders(answer.headers));
    answer.pipe(res);
  };
  const servername = serverName(headers.host);
  const upstream =
    overTls
      ? // Our own listener, whose socket the master holds: its certificate (maybe from files, maybe not for this
        // name) needs no check; the name still goes as SNI, so the new worker picks the site's certificate.
        secureRequest({ ...options, ...(servername === undefined ? {} : { servername }), rejectUnauthorized: false }, onAnswer)
      : request(options, onAnswer);
  upstream.on('error', (error) => sendError(res, 502, `the restarted app could not be reached: ${error.message}`));
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  // A body-less request may start ended and never emit 'end' (servers.ts: optimizeEmptyRequests).
  if (hasBody) req.pipe(upstream);
  else upstream.end();
  return true;
}

/** The Host header's name for SNI; undefined for an IP literal or a malformed host (SNI carries names only). */
function serverName(host: string | string[] | undefined): string | undefined {
  const name = typeof host === 'string' ? parseHost(host) : null;
  return name === null || isIP(name) !== 0 || name.startsWith('[') ? undefined : name;
}
