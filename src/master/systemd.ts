/**
 * systemd integration: socket activation (LISTEN_FDS) and readiness
 * notification (sd_notify).
 *
 * Node cannot send on a unix datagram socket, so notifications go through
 * `systemd-notify`, which ships with systemd wherever NOTIFY_SOCKET can be set.
 * It sends on the master's behalf (MAINPID), which needs `NotifyAccess=all` in
 * the unit — `kirin install` writes it.
 */
import { execFile } from 'node:child_process';
import type { ListenAddress } from '../config/plan.ts';
import type { Logger } from '../observe/log.ts';

const SD_LISTEN_FDS_START = 3;

export interface ActivatedSockets {
  http: ListenAddress[];
  https: ListenAddress[];
}

/**
 * Reads LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES. Descriptors named "https" (or
 * "…https…") serve TLS; the rest plain HTTP. Names with "proxy" (kirin
 * install's http-proxy and https-proxy sockets) expect a PROXY protocol header
 * from a trusted proxy, as `proxyProtocol: true` listeners do. Returns null
 * when not activated.
 * The variables are removed so workers and services do not inherit them.
 */
export function takeActivatedSockets(env: NodeJS.ProcessEnv): ActivatedSockets | null {
  const count = Number(env.LISTEN_FDS);
  const pid = Number(env.LISTEN_PID);
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  const forUs = pid === process.pid || (env.KIRIN_LISTEN_PID_PARENT === "1" && pid === process.ppid);
  delete env.KIRIN_LISTEN_PID_PARENT;
  if (!Number.isInteger(count) || count <= 0 || !forUs) return null;
  const sockets: ActivatedSockets = { http: [], https: [] };
  for (let i = 0; i < count; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    const name = names[i] ?? '';
    const address: ListenAddress = { kind: 'fd', host: '', port: 0, path: '', fd, spec: `fd:${fd}${name ? ` (${name})` : ''}`, ...(name.includes('proxy') ? { proxyProtocol: true as const } : {}) };
    (name.includes('https') ? sockets.https : sockets.http).push(address);
  }
  return sockets;
}

export class SystemdNotifier {
  readonly #socket: string | undefined;
  readonly #logger: Logger;
  #warned = false;
  #sending: Promise<void> = Promise.resolve();

  constructor(env: NodeJS.ProcessEnv, logger: Logger) {
    this.#socket = env.NOTIFY_SOCKET;
    delete env.NOTIFY_SOCKET;
    this.#logger = logger;
  }

  get enabled(): boolean {
    return this.#socket !== undefined;
  }

  ready(status?: string): Promise<void> {
    return this.#send(['READY=1', ...(status ? [`STATUS=${status}`] : [])]);
  }

  reloading(): Promise<void> {
    const monotonicUsec = process.hrtime.bigint() / 1000n;
    return this.#send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec}`]);
  }

  stopping(): Promise<void> {
    return this.#send(['STOPPING=1']);
  }

  status(text: string): Promise<void> {
    return this.#send([`STATUS=${text}`]);
  }

  /** One systemd-notify at a time, so systemd sees RELOADING=1 before the READY=1 that ends it. */
  #send(assignments: string[]): Promise<void> {
    if (this.#socket === undefined) return Promise.resolve();
    this.#sending = this.#sending.then(() => this.#run(assignments));
    return this.#sending;
  }

  #run(assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      execFile(
        'systemd-notify',
        [`--pid=${process.pid}`, ...assignments],
        { env: { ...process.env, NOTIFY_SOCKET: this.#socket }, timeout: 5000 },
        (error) => {
          if (error && !this.#warned) {
            this.#warned = true;
            this.#logger.warn({ err: error.message }, 'could not notify systemd (is systemd-notify installed?)');
          }
          resolve();
        },
      );
    });
  }
}
