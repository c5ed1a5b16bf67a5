/**
 * Services and workers die with the master, however it ends — SIGKILL and the
 * OOM killer included — so no gunicorn is left holding its socket or port, and
 * no worker whose event loop was blocked when the master died (it never sees
 * its IPC channel close) keeps the listening socket.
 *
 * Each service runs in its own process group (its own session, in fact), which
 * the master stops on every exit path it lives through. For the deaths it does
 * not live through, Linux has prctl(PR_SET_PDEATHSIG), which Node cannot call,
 * and which would only reach the service itself, not what it started. So a tiny
 * watcher does it: a /bin/sh process in its own session, started with the first
 * service, whose stdin is a pipe from the master. The master writes `+PGID` when
 * a service's group starts and `-PGID` once it is gone, `+pPID` / `-pPID` for a
 * worker process. The kernel closes the pipe when the master dies; the watcher
 * reads end of file, sends SIGTERM to every group and process still listed,
 * SIGKILL to what is left a moment later, and exits.
 * After a normal stop the list is empty and it just exits.
 *
 * Gunicorn's "dirty arbiter" solves the same problem with a pid file swept at the
 * next start; the watcher does not wait for a next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../observe/log.ts';

/** How long the watcher lets a group handle SIGTERM before SIGKILL, in tenths of a second. */
const TERM_GRACE_TENTHS = 20;

// Only shell builtins between reads (and `kill`, `sleep` at the end): the watcher costs about a megabyte.
const WATCHER = `
trap '' HUP INT QUIT TERM USR1 USR2 TTIN TTOU
targets=' '
while read -r line; do
  case $line in
    +p*) t=\${line#+p} ;;
    -p*) t=\${line#-p} ;;
    *) t=-\${line#?} ;;
  esac
  case $line in
    +*) targets="$targets$t " ;;
    -*) case $targets in *" $t "*) targets="\${targets%% $t *} \${targets#* $t }" ;; esac ;;
  esac
done
[ -z "\${targets# }" ] && exit 0
for t in $targets; do kill -TERM "$t" 2>/dev/null; done
i=0
while [ $i -lt ${TERM_GRACE_TENTHS} ]; do
  alive=''
  for t in $targets; do kill -0 "$t" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && exit 0
  sleep 0.1
  i=$((i + 1))
done
for t in $targets; do kill -KILL "$t" 2>/dev/null; done
`;

/** What a service tells about its process group. */
export interface ProcessGroups {
  /** A group was started (its leader's pid). */
  add(pgid: number): void;
  /** The group is gone (the master killed it after its leader exited). */
  remove(pgid: number): void;
}

/** What the worker spawner tells about a worker process. */
export interface ChildProcesses {
  /** A worker process was started. */
  addProcess(pid: number): void;
  /** It exited. */
  removeProcess(pid: number): void;
}

export class GroupGuard implements ProcessGroups, ChildProcesses {
  readonly #logger: Logger;
  #watcher: ChildProcess | null = null;
  #failed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  add(pgid: number): void {
    this.#write(`+${pgid}`);
  }

  remove(pgid: number): void {
    this.#write(`-${pgid}`);
  }

  addProcess(pid: number): void {
    this.#write(`+p${pid}`);
  }

  removeProcess(pid: number): void {
    this.#write(`-p${pid}`);
  }

  /** Ends the watcher: it kills the groups still listed (none after a normal stop) and exits. */
  close(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    watcher?.stdin?.end();
  }

  #write(line: string): void {
    const watcher = this.#start();
    if (watcher?.stdin?.writable) watcher.stdin.write(`${line}\n`);
  }

  #start(): ChildProcess | null {
    if (this.#watcher || this.#failed) return this.#watcher;
    const watcher = spawn('/bin/sh', ['-c', WATCHER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    const lost = (why: string) => {
      if (this.#watcher !== watcher) return;
      this.#watcher = null;
      this.#failed = true;
      this.#logger.warn(`the watcher that stops services and workers if the master is killed ${why}; they are still stopped on every normal exit`);
    };
    watcher.on('error', (error) => lost(`could not run: ${error.message}`));
    watcher.stdin!.on('error', () => lost('is gone'));
    watcher.on('exit', () => lost('exited'));
    // Neither the process nor its pipe keeps the master's event loop alive.
    watcher.unref();
    (watcher.stdin as unknown as { unref?: () => void }).unref?.();
    this.#watcher = watcher;
    return watcher;
  }
}
