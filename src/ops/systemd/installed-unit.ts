/**
 * Finding the unit `kirin install` wrote for a config, so that `kirin check`
 * judges the service as systemd will run it (its user, capabilities and
 * environment) rather than the shell `kirin check` happens to run in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUnit, splitUnitWords, unitValues } from './unit-file.ts';

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

export interface InstalledUnit {
  path: string;
  /** User=, or null (root) when not set. */
  user: string | null;
  ambientCapabilities: string[];
  /** Environment= variables, and STATE_DIRECTORY from StateDirectory=. */
  environment: Record<string, string>;
  /** EnvironmentFile= paths (an optional "-" prefix removed). */
  environmentFiles: string[];
  /** Listening sockets come from socket units (Sockets= or a .socket of the same name). */
  socketActivated: boolean;
}

/** The first `*.service` in `unitDir` whose ExecStart serves `configFile`, or null. */
export function findInstalledUnit(unitDir: string, configFile: string | null): InstalledUnit | null {
  if (configFile === null) return null;
  let names: string[];
  try {
    names = readdirSync(unitDir).sort();
  } catch {
    return null;
  }
  for (const name of names.filter((n) => n.endsWith('.service'))) {
    let text: string;
    try {
      text = readFileSync(join(unitDir, name), 'utf8');
    } catch {
      continue;
    }
    const sections = parseUnit(text);
    const exec = unitValues(sections, 'Service', 'ExecStart').map(splitUnitWords);
    if (!exec.some((words) => words.includes('serve') && words.includes(configFile))) continue;
    return readUnit(join(unitDir, name), sections, names);
  }
  return null;
}

function readUnit(path: string, sections: ReturnType<typeof parseUnit>, siblings: readonly string[]): InstalledUnit {
  const environment: Record<string, string> = {};
  for (const value of unitValues(sections, 'Service', 'Environment')) {
    for (const word of splitUnitWords(value)) {
      const eq = word.indexOf('=');
      if (eq > 0) environment[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  const stateDirectory = unitValues(sections, 'Service', 'StateDirectory')[0]?.split(/\s+/)[0];
  if (stateDirectory) environment.STATE_DIRECTORY = `/var/lib/${stateDirectory}`;
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.service$/, '');
  return {
    path,
    user: unitValues(sections, 'Service', 'User')[0] ?? null,
    ambientCapabilities: unitValues(sections, 'Service', 'AmbientCapabilities').flatMap((v) => v.split(/\s+/)),
    environment,
    environmentFiles: unitValues(sections, 'Service', 'EnvironmentFile').map((f) => f.replace(/^-/, '')),
    socketActivated: unitValues(sections, 'Unit', 'Requires').some((v) => v.includes('.socket')) || unitValues(sections, 'Service', 'Sockets').length > 0 || siblings.includes(`${base}.socket`),
  };
}
