/**
 * `kirin dev` on the master's side: a watcher on what the app loaded (its
 * workers report it), the config file, the env files and the static roots;
 * a change, after a short quiet time, becomes the master's own reload — the
 * new generation starts, takes over once ready, and the old one drains. The
 * listening sockets never close, so a request made during a restart is
 * answered (by the old generation until the new one is ready), never refused.
 */
import { dirname, join, relative } from 'node:path';
import type { ServePlan } from '../config/plan.ts';
import type { Master } from '../master/master.ts';
import { findPackageRoot } from '../util/package-root.ts';
import { FileWatcher } from './watcher.ts';
import { ACTIVITY_EVENT, LOADED_FILES_EVENT, REPLACED_EVENT } from './worker.ts';

/**
 * Saves arrive as bursts (write temp, rename; formatters writing several
 * files): wait this long after the last event. node --watch waits 200 ms.
 */
export const DEBOUNCE_MS = 100;
const POLL_INTERVAL_MS = 500;

export interface DevSessionOptions {
  poll: boolean;
}

export class DevSession {
  readonly #master: Master;
  readonly #watcher: FileWatcher;
  readonly #changed = new Set<string>();
  #timer: NodeJS.Timeout | null = null;

  constructor(master: Master, options: DevSessionOptions) {
    this.#master = master;
    const logger = master.logger;
    this.#watcher = new FileWatcher({
      poll: options.poll,
      pollIntervalMs: POLL_INTERVAL_MS,
      onChange: (path) => this.#heard(path),
      onPolling: (reason) => logger.warn(`watching by polling every ${POLL_INTERVAL_MS} ms: ${reason}`),
    });
    this.#watchPlan(master.plan);
    master.on(`worker-event:${LOADED_FILES_EVENT}`, (_worker, files) => {
      if (Array.isArray(files)) this.#watcher.addFiles(withTheirPackageJsons(files.filter((f): f is string => typeof f === 'string')));
    });
    // Someone is using the app: a good moment to notice a save whose file event never came (watcher.ts).
    master.on(`worker-event:${ACTIVITY_EVENT}`, () => this.#watcher.verify());
    master.on('reload', (ok) => {
      if (ok) this.#watchPlan(master.plan);
    });
    master.on('finishing', () => this.close());
    if (options.poll) logger.info(`watching by polling every ${POLL_INTERVAL_MS} ms (--poll)`);
  }

  /** Restarts the app now (the `r` key), or after a change. */
  restart(why: string): void {
    const logger = this.#master.logger;
    const started = performance.now();
    logger.info(`${why}; restarting`);
    void this.#master.reload().then(async (result) => {
      const ms = Math.round(performance.now() - started);
      if (!result.ok) {
        logger.error(`restart failed, the previous code keeps serving: ${result.error}`);
        return;
      }
      // Said once the old workers pass on what reaches them: from then on every request gets the new code.
      await this.#oldGenerationReplaced(result.generation);
      logger.info({ generation: result.generation, ms }, `restarted in ${ms} ms`);
    });
  }

  /** Resolves once every worker older than `generation` has handed over (or exited). */
  #oldGenerationReplaced(generation: number): Promise<void> {
    const master = this.#master;
    const waiting = new Set(master.status().workers.filter((w) => w.generation < generation).map((w) => w.pid));
    if (waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        master.off(`worker-event:${REPLACED_EVENT}`, seen);
        master.off('worker-exit', seen);
        master.off('finishing', done);
        resolve();
      };
      const seen = (worker: { pid: number }) => {
        waiting.delete(worker.pid);
        if (waiting.size === 0) done();
      };
      master.on(`worker-event:${REPLACED_EVENT}`, seen);
      master.on('worker-exit', seen);
      master.on('finishing', done);
    });
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#watcher.close();
  }

  /** The config file, the env files and the static roots: what the master reads or serves itself. */
  #watchPlan(plan: ServePlan): void {
    const files = [...plan.envFiles];
    if (plan.configFile) files.push(plan.configFile);
    this.#watcher.addFiles(files);
    for (const site of plan.sites) for (const route of site.routes) if (route.handler.type === 'static') this.#watcher.addTree(route.handler.root);
  }

  #heard(path: string): void {
    this.#changed.add(path);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const names = [...this.#changed].map((p) => relative(process.cwd(), p) || p);
      this.#changed.clear();
      this.restart(`${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''} changed`);
    }, DEBOUNCE_MS);
  }
}

/**
 * The files and the package.json nearest to each: its "type" decides whether
 * Node runs a .js or .ts file as an ES module or CommonJS (and its "imports"
 * where `#name` points), so fixing it must restart the app as saving a module does.
 */
function withTheirPackageJsons(files: string[]): string[] {
  const out = new Set(files);
  for (const file of files) {
    const root = findPackageRoot(dirname(file));
    if (root !== null) out.add(join(root, 'package.json'));
  }
  return [...out];
}
