/**
 * A replaced worker's last job in `kirin dev`: requests that still reach it on
 * keep-alive connections it had are passed to the new generation through the
 * listening socket (which only the new worker accepts from now on), so they
 * get the new code. Closing those connections instead would race with a
 * client sending on them (a reset it would see as a failure); answering with
 * the old code would show the page from before the save. The new worker sees
 * these few requests come from loopback.
 */
import { request } from 'node:http';
import type { ListenerFd } from '../ipc.ts';
import { endToEndHeaders } from '../handlers/proxy/hop-by-hop.ts';
import { sendError } from '../worker/error-response.ts';
import type { NodeRequest, NodeResponse } from '../worker/context.ts';

export type HandOverTarget = { host: string; port: number } | { socketPath: string };

/** Where the new generation accepts: the first plain HTTP listener, or null when there is none (HTTPS only). */
export function handOverTarget(listeners: readonly ListenerFd[]): HandOverTarget | null {
  for (const listener of listeners) {
    if (listener.secure || listener.proxyProtocol) continue;
    if (listener.spec.startsWith('unix:')) return { socketPath: listener.spec.slice('unix:'.length) };
    const url = /^http:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(listener.spec);
    if (url) return { host: url[1] === '0.0.0.0' ? '127.0.0.1' : url[1] === '::' ? '::1' : url[1]!, port: Number(url[2]) };
  }
  return null;
}

export function handOver(req: NodeRequest, res: NodeResponse, target: HandOverTarget): void {
  // The client's next request opens a new connection, to the new generation.
  res.shouldKeepAlive = false;
  const upstream = request({ ...target, method: req.method, path: req.url, headers: endToEndHeaders(req.headers), agent: false }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEndHeaders(answer.headers));
    answer.pipe(res);
  });
  upstream.on('error', (error) => sendError(res, 502, `the restarted app could not be reached: ${error.message}`));
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  // A body-less request may start ended and never emit 'end' (servers.ts: optimizeEmptyRequests).
  if (hasBody) req.pipe(upstream);
  else upstream.end();
}
