/**
 * A unix socket path to listen on that only Kirin's user can reach: its
 * folder is created mode 0700 (an existing one tightened), and a socket a
 * previous run left there is removed. Used for services' sockets and for the
 * workers' peer sockets (worker/sticky/peer-server.ts).
 */
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';

export function preparePrivateSocket(socket: string): void {
  const folder = dirname(socket);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  chmodSync(folder, 0o700);
  try {
    unlinkSync(socket);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
