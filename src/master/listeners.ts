/**
 * The listening sockets, owned by the master and shared by every worker.
 *
 * The master binds each address (or takes it from systemd) but never accepts:
 * it keeps the descriptor open and passes it to each worker, which calls
 * listen() and accepts. Because the socket outlives any worker, connections
 * that arrive while a worker restarts or a generation swaps wait in the
 * kernel's queue instead of being refused or reset. (SO_REUSEPORT gives each
 * worker its own queue, and a worker that closes its socket resets what was
 * queued on it — see docs/architecture.md for the measurement.)
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { ListenAddress } from '../config/plan.ts';
import { KirinError } from '../errors.ts';

export interface OpenListener {
  address: ListenAddress;
  secure: boolean;
  /** The descriptor in the master. */
  fd: number;
  /** The bound port (for port 0, the one the kernel chose). */
  port: number;
  /** A URL for messages: http://127.0.0.1:8000, unix:/run/kirin.sock. */
  url: string;
  /** Keeps the descriptor open; null for inherited (systemd) descriptors. */
  handle: { close(): void; fd: number } | null;
}

interface ServerHandle {
  fd: number;
  close(): void;
  getsockname(out: Record<string, unknown>): number;
}

type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => ServerHandle | number;

// node:net's own helper for cluster's shared handles: bind without listen, so the master never accepts.
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })._createServerHandle;

const UV_ERRORS: Record<number, string> = { [-98]: 'EADDRINUSE', [-13]: 'EACCES', [-99]: 'EADDRNOTAVAIL', [-22]: 'EINVAL', [-2]: 'ENOENT' };

export function openListener(address: ListenAddress, secure: boolean): OpenListener {
  const scheme = secure ? 'https' : 'http';
  if (address.kind === 'fd') {
    return { address, secure, fd: address.fd, port: 0, url: `${scheme}://(fd ${address.fd})`, handle: null };
  }
  if (address.kind === 'unix') return openUnix(address, secure);
  const family = address.host.includes(':') ? 6 : 4;
  const host = address.host === '' ? null : address.host;
  const result = createServerHandle(host, address.port, host === null ? 4 : family);
  if (typeof result === 'number') throw listenError(address, result);
  const info: Record<string, unknown> = {};
  result.getsockname(info);
  const port = Number(info.port ?? 0);
  // libuv defers EADDRINUSE from bind() to listen(); an unbound socket reports port 0.
  if (address.port !== 0 && port !== address.port) {
    result.close();
    throw listenError(address, -98);
  }
  const shownHost = host === null ? '0.0.0.0' : family === 6 ? `[${host}]` : host;
  return { address, secure, fd: result.fd, port, url: `${scheme}://${shownHost}:${port}`, handle: result };
}

function openUnix(address: ListenAddress, secure: boolean): OpenListener {
  removeStaleSocket(address);
  const result = createServerHandle(address.path, -1, -1);
  if (typeof result === 'number') throw listenError(address, result);
  // Bind made it; listen happens in the workers. 0660: the owner and a proxy in the same group may connect.
  chmodSync(address.path, 0o660);
  return { address, secure, fd: result.fd, port: 0, url: `unix:${address.path}`, handle: result };
}

/** A socket file left by a crashed run blocks bind; remove it if nothing listens there. */
function removeStaleSocket(address: ListenAddress): void {
  if (!existsSync(address.path)) return;
  const stat = lstatSync(address.path);
  if (!stat.isSocket()) {
    throw new KirinError('KIRIN_ERR_LISTEN', `cannot listen on ${address.spec}: ${address.path} exists and is not a socket; remove it or choose another path`);
  }
  unlinkSync(address.path);
}

function listenError(address: ListenAddress, errno: number): KirinError {
  const code = UV_ERRORS[errno] ?? `error ${errno}`;
  const where = address.kind === 'unix' ? address.path : address.spec;
  const hints: Record<string, string> = {
    EADDRINUSE: 'address already in use: another program (or another Kirin) is listening there; stop it or choose another --bind',
    EACCES:
      address.kind === 'tcp' && address.port < 1024
        ? `permission denied: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (kirin install sets it up), or use a port above 1023`
        : 'permission denied',
    EADDRNOTAVAIL: 'this machine has no such address; listen on one of its own addresses, 127.0.0.1, or all of them (":PORT")',
    ENOENT: 'the folder for the socket does not exist',
  };
  return new KirinError('KIRIN_ERR_LISTEN', `cannot listen on ${where}: ${hints[code] ?? code}`);
}

export function closeListener(listener: OpenListener): void {
  listener.handle?.close();
  if (listener.address.kind === 'unix') {
    try {
      unlinkSync(listener.address.path);
    } catch {
      // Already gone.
    }
  }
}

/** A stable identity for a listener, to keep sockets open across reloads that do not change them. */
export function listenerKey(address: ListenAddress, secure: boolean): string {
  return `${secure ? 'https' : 'http'} ${address.kind} ${address.kind === 'unix' ? address.path : address.kind === 'fd' ? address.fd : `${address.host}:${address.port}`}`;
}
