/**
 * Where the workers' peer sockets live (peer-server.ts): one per worker,
 * `<stateDir>/run/workers/<pid>.sock`, so a worker finds the socket of a
 * session's worker from the pid its session id names, without asking anyone.
 *
 * A worker removes its socket as it exits; the master removes the one of a
 * worker that died without that chance, and at start every one a previous
 * run left (the control socket has shown by then that no other Kirin uses
 * this state folder). A stale one would only cost a refused connection.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export function peerSocketDir(stateDir: string): string {
  return join(stateDir, 'run', 'workers');
}

export function peerSocketPath(stateDir: string, pid: number): string {
  return join(peerSocketDir(stateDir), `${pid}.sock`);
}

/** The socket of a worker that has exited. */
export function removePeerSocket(stateDir: string, pid: number): void {
  rmSync(peerSocketPath(stateDir, pid), { force: true });
}

/** Every peer socket in the folder: at the master's start, they are all a previous run's. */
export function removeStalePeerSockets(stateDir: string): void {
  const dir = peerSocketDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // No folder: no run with `sticky` left anything.
  }
  for (const name of names) if (name.endsWith('.sock')) rmSync(join(dir, name), { force: true });
}
