/**
 * Readiness: a server is ready when its port accepts connections and answers
 * HTTP — polled with a deadline, never a sleep. A server that exits while we
 * wait fails at once with its output.
 */
import { get } from 'node:http';
import { connect } from 'node:net';
import type { Launched } from './process.ts';

const POLL_MS = 50;

/** Resolves once a TCP connection to host:port succeeds. */
export function waitForPort(host: string, port: number, timeoutMs: number, server?: Launched): Promise<void> {
  return poll(() => canConnect(host, port), timeoutMs, `${host}:${port} to accept connections`, server);
}

/** Resolves once GET `url` answers with `status` (default 200). */
export function waitForHttp(url: string, timeoutMs: number, server?: Launched, status = 200): Promise<void> {
  return poll(() => answers(url, status), timeoutMs, `${url} to answer ${status}`, server);
}

async function poll(check: () => Promise<boolean>, timeoutMs: number, what: string, server?: Launched): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server?.hasExited) throw new Error(`${server.name} exited while waiting for ${what}; output:\n${server.output()}`);
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${server ? `; ${server.name} output:\n${server.output()}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function answers(url: string, status: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode === status));
      res.once('error', () => resolve(false));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}
