/**
 * CPU pinning. On the project's 2-core machine the load generator owns CPU 0
 * and the server under test (with everything it spawns) owns CPU 1, so a
 * server never competes with wrk for a core and every peer gets the same one.
 * taskset execs the command, so the pid we get is the server's own, and the
 * affinity is inherited by its workers and children.
 */
import { availableParallelism } from 'node:os';

export const LOAD_CPU = 0;
export const SERVER_CPU = 1;

/** Prefixes a command with `taskset -c CPU`; unpinned when the machine has one core. */
export function pinned(cpu: number | null, command: string, args: string[]): { command: string; args: string[] } {
  if (cpu === null || availableParallelism() <= cpu) return { command, args };
  return { command: 'taskset', args: ['-c', String(cpu), command, ...args] };
}
