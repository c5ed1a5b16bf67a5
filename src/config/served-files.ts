/**
 * The files a plan serves must be there before a worker starts: an app module
 * that does not exist would otherwise surface as Node's "Cannot find module …
 * imported from …/load.js" in every worker, and a static root that does not
 * exist as a 404 for every file. Checked once, with the key path that names
 * them (the normalizer stays free of the file system, so plans can be built
 * for another machine: `kirin export`, `kirin install`).
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { closest, ConfigError, type ConfigProblem } from './issues.ts';
import type { ServePlan } from './plan.ts';

export type PathKind = 'file' | 'folder';

/** What is wrong with `path` as a `kind`, or null when it is one. */
export function pathProblem(path: string, kind: PathKind): string | null {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') {
      return `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    }
    const near = nearbyName(path);
    return `no such ${kind}: ${path}${near ? `; did you mean "${near}"?` : ''}`;
  }
  if (kind === 'folder' && !isFolder) return `${path} is a file; static serves a folder (its files by their paths)`;
  if (kind === 'file' && isFolder) return `${path} is a folder; name the module file in it (e.g. '${basename(path)}/app.ts')`;
  return null;
}

/** A name beside a missing path that is one typo away from it ("app.mts" for "app.ts"). */
function nearbyName(path: string): string | undefined {
  try {
    return closest(basename(path), readdirSync(dirname(path)));
  } catch {
    return undefined;
  }
}

/** Every app module and static root of the plan that is missing or of the wrong kind. */
export function servedFileProblems(plan: ServePlan): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const site of plan.sites) {
    for (const route of site.routes) {
      const { handler } = route;
      const found = handler.type === 'app' ? pathProblem(handler.module, 'file') : handler.type === 'static' ? pathProblem(handler.root, 'folder') : null;
      // The app given on the command line is the route 'app' itself.
      if (found !== null) problems.push({ path: route.at === 'app' ? 'app' : `${route.at}.${handler.type}`, message: found });
    }
  }
  return problems;
}

/** Throws the config error `kirin serve` stops with when a served file is missing. */
export function checkServedFiles(plan: ServePlan): void {
  const problems = servedFileProblems(plan);
  if (problems.length > 0) throw new ConfigError(plan.configFile ?? 'command line', problems);
}
