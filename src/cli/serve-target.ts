/**
 * What `kirin serve PATH` serves. PATH names a module (a fetch handler or a
 * Node listener, with an optional :EXPORT), or a folder — then what a person
 * coming from `node DIR` or `gunicorn`/`pm2` in a project folder expects: the
 * folder's kirin.config.* when it has one (as `kirin serve` run inside it),
 * else the module its package.json "main" names (what `node DIR` runs).
 */
import { readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { findConfigFile } from '../config/load.ts';
import { parseAppSpec } from '../config/normalize-routes.ts';
import { pathProblem } from '../config/served-files.ts';
import { KirinError } from '../errors.ts';

export interface ServeTarget {
  /** The app spec to serve for every host, or undefined when the folder's config is served. */
  app: string | undefined;
  /** The folder's config file, when PATH is a folder that has one. */
  configFile: string | null;
  /** What a folder resolved to, said once at start; null for a module path. */
  note: string | null;
}

export function resolveServeTarget(spec: string, cwd: string, configGiven: boolean): ServeTarget {
  const { module, exportName } = parseAppSpec(spec, cwd);
  let isFolder: boolean;
  try {
    isFolder = statSync(module).isDirectory();
  } catch {
    throw new KirinError('KIRIN_ERR_USAGE', `cannot serve ${spec}: ${pathProblem(module, 'file')}`);
  }
  if (!isFolder) return { app: spec, configFile: null, note: null };
  if (exportName !== 'default') {
    throw new KirinError('KIRIN_ERR_USAGE', `cannot serve ${spec}: ${module} is a folder; PATH:EXPORT names a module file`);
  }
  const configFile = findConfigFile(module);
  if (configFile !== null) {
    if (configGiven) throw new KirinError('KIRIN_ERR_USAGE', `cannot serve ${spec}: it is a folder with its own ${relative(module, configFile)}; give the folder or --config, not both`);
    return { app: undefined, configFile, note: `serving ${configFile} (the config in ${spec})` };
  }
  const main = packageMain(module);
  if (main !== null) {
    const problem = pathProblem(main, 'file');
    if (problem) throw new KirinError('KIRIN_ERR_USAGE', `cannot serve ${spec}: its package.json "main" names ${relative(module, main)}, but ${problem}`);
    return { app: main, configFile: null, note: `serving ${main} (package.json "main" in ${spec})` };
  }
  throw new KirinError(
    'KIRIN_ERR_USAGE',
    `cannot serve ${spec}: ${module} is a folder with no kirin.config.{ts,mts,js,mjs,json} and no package.json "main"; name the app module (kirin serve ${join(spec, 'app.ts')}) or create a kirin.config.ts there`,
  );
}

/** The module a folder's package.json names as "main", or null when it names none. */
function packageMain(folder: string): string | null {
  let pkg: { main?: unknown };
  try {
    pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { main?: unknown };
  } catch {
    return null;
  }
  return typeof pkg.main === 'string' && pkg.main !== '' ? resolve(folder, pkg.main) : null;
}
