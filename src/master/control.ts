/**
 * The control socket behind `kirin status`, `kirin reload` and `kirin stop`:
 * a unix socket in the state folder, mode 0600 (only the user running Kirin
 * may command it), one JSON request and one JSON answer per connection.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { keyAndFlag } from '../config/serve-flags.ts';
import { KirinError } from '../errors.ts';
import type { Logger } from '../observe/log.ts';

export const CONTROL_SOCKET = 'control.sock';

export interface ControlTarget {
  status(): unknown;
  reload(): Promise<unknown>;
  stop(mode?: 'graceful' | 'fast'): void;
}

export type ControlHandler = (args: Record<string, unknown>) => unknown;

export class ControlServer {
  readonly #target: ControlTarget;
  readonly #logger: Logger;
  readonly #extra = new Map<string, ControlHandler>();
  #server: Server | null = null;
  path = '';

  constructor(target: ControlTarget, logger: Logger) {
    this.#target = target;
    this.#logger = logger;
  }

  /** Adds a command (certs, metrics …). */
  register(command: string, handler: ControlHandler): void {
    this.#extra.set(command, handler);
  }

  async listen(stateDir: string): Promise<void> {
    this.path = join(stateDir, CONTROL_SOCKET);
    if (existsSync(this.path)) {
      if (await isAlive(this.path)) {
        throw new KirinError('KIRIN_ERR_CONTROL', `another Kirin is already running with state folder ${stateDir} (its control socket answers); stop it first (kirin stop) or set another ${keyAndFlag('stateDir')}`);
      }
      unlinkSync(this.path);
    }
    const server = createServer((socket) => {
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('error', () => {});
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.length > 65_536) return socket.destroy();
        const newline = buffer.indexOf('\n');
        if (newline === -1) return;
        const line = buffer.slice(0, newline);
        void this.#handle(line).then((answer) => socket.end(`${JSON.stringify(answer)}\n`));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
    this.#server = server;
  }

  async #handle(line: string): Promise<unknown> {
    let request: { cmd?: string; args?: Record<string, unknown> };
    try {
      request = JSON.parse(line);
    } catch {
      return { ok: false, error: 'expected one JSON object per line' };
    }
    try {
      switch (request.cmd) {
        case 'status':
          return { ok: true, value: this.#target.status() };
        case 'reload':
          return { ok: true, value: await this.#target.reload() };
        case 'stop':
          this.#target.stop(request.args?.fast ? 'fast' : 'graceful');
          return { ok: true, value: 'stopping' };
        default: {
          const handler = this.#extra.get(String(request.cmd));
          if (!handler) return { ok: false, error: `unknown command "${request.cmd}"` };
          return { ok: true, value: await handler(request.args ?? {}) };
        }
      }
    } catch (error) {
      this.#logger.warn({ err: error, cmd: request.cmd }, 'control command failed');
      return { ok: false, error: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // Gone already.
    }
  }
}

/** True when something listens on the unix socket at `path` (a stale file does not answer). */
export function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends one command to a running master and returns its answer's value. */
export function sendControl(stateDir: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<unknown> {
  const path = join(stateDir, CONTROL_SOCKET);
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) {
      reject(new KirinError('KIRIN_ERR_NOT_RUNNING', `Kirin is not running here (no control socket at ${path}); start it with kirin serve, or pass the --state-dir it uses`));
      return;
    }
    const socket = connect(path);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new KirinError('KIRIN_ERR_CONTROL', `no answer from the master within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ cmd, args })}\n`));
    socket.on('data', (chunk: string) => (buffer += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        const answer = JSON.parse(buffer) as { ok: boolean; value?: unknown; error?: string };
        if (answer.ok) resolve(answer.value);
        else reject(new KirinError('KIRIN_ERR_CONTROL', answer.error ?? 'the master refused'));
      } catch {
        reject(new KirinError('KIRIN_ERR_CONTROL', 'the master sent an answer that is not JSON'));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ECONNREFUSED'
          ? new KirinError('KIRIN_ERR_NOT_RUNNING', `Kirin is not running (stale control socket at ${path})`)
          : new KirinError('KIRIN_ERR_CONTROL', `cannot reach the master: ${error.message}`),
      );
    });
  });
}
