/**
 * The files the app actually loads, as `node --watch` tracks them: a module
 * hook in the worker sees every file import() and require() load (the app,
 * its local modules, lazy imports later), and the worker tells the master,
 * whose watcher follows exactly those. A relative import that fails to
 * resolve is reported too, so creating the missing file restarts the app.
 *
 * Only files of the project count: node_modules and .git change when
 * packages are installed, not when the app is edited (docs/dev.md).
 */
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Kirin's own modules (src/ or dist/): loaded lazily by the worker, never edited with the app. */
const KIRIN_MODULES = fileURLToPath(new URL('../', import.meta.url));

/** A path the watcher ignores: dependencies and version control. */
export function isIgnoredPath(path: string): boolean {
  return /[\\/](node_modules|\.git)([\\/]|$)/.test(path);
}

/** A file of the user's project: not a dependency's, not Kirin's own. */
export function isProjectFile(path: string): boolean {
  return path.startsWith('/') && !isIgnoredPath(path) && !path.startsWith(KIRIN_MODULES);
}

/** Files found in one burst of loading are sent together, not one message each. */
const BATCH_MS = 20;

/**
 * Starts recording; `report` gets the new files, a batch at a time. Call
 * before the app is imported. Returns what reports the pending batch now.
 */
export function trackLoadedModules(report: (files: string[]) => void): () => void {
  const seen = new Set<string>();
  let batch: string[] = [];
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (batch.length === 0) return;
    const files = batch;
    batch = [];
    report(files);
  };
  const record = (url: string): void => {
    if (!url.startsWith('file:')) return;
    const path = fileURLToPath(url);
    if (seen.has(path) || !isProjectFile(path)) return;
    seen.add(path);
    batch.push(path);
    timer ??= setTimeout(flush, BATCH_MS);
  };
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        // `import './missing.ts'`: watch where it would be, so creating it restarts the app.
        if (context.parentURL?.startsWith('file:') && /^\.{1,2}\//.test(specifier)) record(new URL(specifier, context.parentURL).href);
        throw error;
      }
    },
    load(url, context, nextLoad) {
      // Recorded before loading: a file with a syntax error is the one to watch most.
      record(url);
      return nextLoad(url, context);
    },
  });
  return flush;
}
