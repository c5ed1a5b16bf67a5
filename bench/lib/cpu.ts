/**
 * How much CPU something else took while we measured. The benches pin wrk
 * and the server to the two cores, but other programs on the machine (a test
 * suite, a build) are not pinned and steal time from either; a run they
 * disturb is not a measurement of the server. From /proc: the busy time of
 * every CPU, minus what the server's process tree and wrk used, is "other".
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { descendants } from './rss.ts';

/** Clock ticks per second in /proc (USER_HZ): 100 on Linux. */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  at: number;
  /** Busy ticks of all CPUs together (user, nice, system, irq, softirq, steal). */
  busyTicks: number;
  /** utime + stime of the watched process trees. */
  treeTicks: number;
}

/** Samples the machine's busy time and the CPU time of the process trees under `roots`. */
export function sampleCpu(roots: number[]): CpuSample {
  return { at: performance.now(), busyTicks: busyTicks(), treeTicks: roots.reduce((sum, root) => sum + treeTicks(root), 0) };
}

/**
 * CPU (in cores, 1.0 = one whole core) used during the interval by anything
 * other than the tree and `extraTicks` (the load generator's own ticks).
 */
export function otherLoad(before: CpuSample, after: CpuSample, extraTicks: number): number {
  const other = after.busyTicks - before.busyTicks - (after.treeTicks - before.treeTicks) - extraTicks;
  return Math.max(0, cores(other, (after.at - before.at) / 1000));
}

/** Clock ticks over an interval, as cores (1.0 = one core busy all the time). */
export function cores(ticks: number, seconds: number): number {
  return seconds > 0 ? ticks / TICKS_PER_SECOND / seconds : 0;
}

/** CPU (in cores) the watched trees used during the interval: below ~0.95 the server was not the bottleneck. */
export function treeLoad(before: CpuSample, after: CpuSample): number {
  return cores(after.treeTicks - before.treeTicks, (after.at - before.at) / 1000);
}

function busyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

function treeTicks(root: number): number {
  let total = 0;
  for (const pid of [root, ...descendants(root)]) total += processTicks(pid);
  return total;
}

/** utime + stime of one process, in ticks; 0 when it is gone. */
export function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state(0) ppid(1) … utime(11) stime(12).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Parses the shell's `times` output (two lines: the shell's, then its children's user and system time). */
export function parseTimes(text: string): number {
  const lines = text.trim().split('\n');
  const children = lines[lines.length - 1] ?? '';
  let seconds = 0;
  for (const match of children.matchAll(/(\d+)m([\d.]+)s/g)) seconds += Number(match[1]) * 60 + Number(match[2]);
  return Math.round(seconds * TICKS_PER_SECOND);
}

/**
 * Waits (up to `maxWaitMs`) for a second during which the whole machine is
 * nearly idle — nothing of ours runs between measurements, so whatever is busy
 * belongs to someone else. Returns the load of the last second, in cores.
 */
export async function waitForQuiet(maxWaitMs: number, threshold: number): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const before = { at: performance.now(), busyTicks: busyTicks(), treeTicks: 0 };
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const load = otherLoad(before, { at: performance.now(), busyTicks: busyTicks(), treeTicks: 0 }, 0);
    if (load <= threshold || performance.now() > deadline) return load;
  }
}

/**
 * Runs a load generator through sh, whose `times` then reports the
 * generator's own CPU time: the ticks otherLoad() must not count as "other".
 */
export function execTimed(command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; cpuTicks: number }> {
  const script = 'rc=0; "$@" || rc=$?; times >&2; exit $rc';
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script, 'sh', command, ...args], { timeout: timeoutMs, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${[command, ...args].join(' ')} failed (exit ${String(error.code ?? error.signal)}): ${error.message}\n${stdout}${stderr}`));
      else resolve({ stdout, cpuTicks: parseTimes(stderr) });
    });
  });
}
