/**
 * Type stripping done once, not in every worker.
 *
 * Node runs a .ts app by stripping its types with a WebAssembly module that,
 * once loaded, stays in the process: about 17 MB of every worker's memory.
 * Node's compile cache (module.enableCompileCache) also keeps the stripped
 * source on disk, keyed by file and content, and a process that finds it there
 * never loads the stripper. So before a generation starts, a short-lived child
 * process fills the cache (in the state folder) for the apps' module graphs,
 * and the workers read from it.
 *
 * The child must not run the app (it may open connections, start timers, write
 * files): its entry imports a module that flushes the cache and exits, then the
 * app. ES modules are all loaded and compiled (stripped) before any of them is
 * evaluated, and imports are evaluated in order, so the exit comes first. What
 * the static graph does not reach (a dynamic import, a CommonJS .cts) is
 * stripped by the worker that loads it, and cached for the next.
 */
import { spawn } from 'node:child_process';
import { constants, enableCompileCache, flushCompileCache } from 'node:module';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServePlan } from '../../config/plan.ts';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);
/** Stripping a large app takes a second or two; a child still busy after this is left behind (the workers strip for themselves). */
const WARM_TIMEOUT_MS = 30_000;

export function compileCacheDir(stateDir: string): string {
  return join(stateDir, 'compile-cache');
}

/** The TypeScript app modules of a plan. */
export function typescriptApps(plan: ServePlan): string[] {
  const modules = new Set<string>();
  for (const site of plan.sites) {
    for (const route of site.routes) {
      if (route.handler.type === 'app' && TYPESCRIPT.has(extname(route.handler.module))) modules.add(route.handler.module);
    }
  }
  return [...modules];
}

/**
 * Strips the apps' types into the compile cache in a child process. Never
 * throws: an app that does not compile fails in its worker, which reports the
 * error with the app's own stack.
 */
export function warmCompileCache(plan: ServePlan, signal?: AbortSignal): Promise<void> {
  const apps = typescriptApps(plan);
  if (apps.length === 0) return Promise.resolve();
  const stop = `data:text/javascript,${encodeURIComponent('import { flushCompileCache } from "node:module"; flushCompileCache(); process.exit(0);')}`;
  const entry = [stop, ...apps.map((app) => pathToFileURL(app).href)].map((url) => `import ${JSON.stringify(url)};`).join('\n');
  const source = `import { enableCompileCache } from 'node:module';\nenableCompileCache(${JSON.stringify(compileCacheDir(plan.stateDir))});\nawait import(${JSON.stringify(`data:text/javascript,${encodeURIComponent(entry)}`)});\n`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: 'ignore', cwd: plan.baseDir });
    const timer = setTimeout(() => child.kill('SIGKILL'), WARM_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    signal?.addEventListener('abort', () => child.kill('SIGKILL'), { once: true });
    child.once('error', done);
    child.once('exit', done);
  });
}

/** In a worker, before the apps load: read stripped sources from the cache. Returns a function that saves what this worker had to strip itself. */
export function useCompileCache(stateDir: string): () => void {
  const { status } = enableCompileCache(compileCacheDir(stateDir));
  // FAILED (an unwritable folder) or DISABLED (NODE_DISABLE_COMPILE_CACHE): the worker strips as before.
  const enabled = status === constants.compileCacheStatus.ENABLED || status === constants.compileCacheStatus.ALREADY_ENABLED;
  return enabled ? () => flushCompileCache() : () => {};
}
