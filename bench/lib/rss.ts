/**
 * Resident memory of a process tree, from /proc: VmRSS of the root and every
 * descendant, summed. That is what a user sees in `top` for a master and its
 * workers (shared pages are counted in each process, as `top` does).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessMemory {
  pid: number;
  command: string;
  rssBytes: number;
  /**
   * Proportional set size: private pages, plus each shared page divided by the
   * number of processes mapping it (the Node binary's code, shared by a master
   * and its workers). Summed over processes it is what they cost the machine.
   */
  pssBytes: number;
}

export interface TreeMemory {
  totalBytes: number;
  /** The root first, then its descendants in pid order. */
  processes: ProcessMemory[];
}

export function treeRss(rootPid: number): TreeMemory {
  const pids = [rootPid, ...descendants(rootPid)];
  const processes: ProcessMemory[] = [];
  for (const pid of pids) {
    const memory = processRss(pid);
    if (memory) processes.push(memory);
  }
  return { totalBytes: processes.reduce((sum, p) => sum + p.rssBytes, 0), processes };
}

/** VmRSS of one process; null when it is gone. */
export function processRss(pid: number): ProcessMemory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  const name = /^Name:\s+(.*)$/m.exec(status);
  return { pid, command: name?.[1] ?? '?', rssBytes: rss ? Number(rss[1]) * 1024 : 0, pssBytes: processPss(pid) };
}

/** Pss from /proc/PID/smaps_rollup (Linux >= 4.14); 0 when it cannot be read. */
export function processPss(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const pss = /^Pss:\s+(\d+) kB/m.exec(rollup);
    return pss ? Number(pss[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every process below `rootPid`, found through the parent pid in /proc/PID/stat. */
export function descendants(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentPid(Number(entry));
    if (parent === null) continue;
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const found: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found.sort((a, b) => a - b);
}

function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}

export function megabytes(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/**
 * Kirin's worker processes below `rootPid`: those running worker/main.js. The
 * master has another child, the /bin/sh guard that outlives it (src/master/group-guard.ts).
 */
export function kirinWorkers(rootPid: number): number[] {
  return descendants(rootPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => /[/\\]worker[/\\]main\.[jt]s$/.test(arg));
    } catch {
      return false;
    }
  });
}
