/**
 * Finding the unit `kirin install` wrote for a config, so that `kirin check`
 * judges the service as systemd will run it (its user, capabilities and
 * environment) rather than the shell `kirin check` happens to run in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUnit, splitUnitWords, unitValues } from './unit-file.ts';

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

/** The first words of the header `kirin install` writes: how its units are told from hand-written ones. */
export const INSTALL_MARK = 'Written by `kirin install`';

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
  /** ExecStart runs `kirin dev`, the development server (K034). */
  runsDev?: boolean;
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
    const serving = exec.find((words) => (words.includes('serve') || words.includes('dev')) && words.includes(configFile));
    if (!serving) continue;
    return { ...readUnit(join(unitDir, name), sections, names), runsDev: !serving.includes('serve') };
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

/** A Kirin that `kirin install` set up: its service, what it serves, and the state folder systemd gives it. */
export interface InstalledKirin {
  /** The unit's name, e.g. 'kirin.service'. */
  unit: string;
  /** `serve --config FILE`'s file, or null when it serves an app path. */
  configFile: string | null;
  /** /var/lib/<StateDirectory=>: the state folder unless the config sets stateDir. */
  stateDirectory: string;
}

/** Every service in `unitDir` that `kirin install` wrote, by name. */
export function listInstalledKirins(unitDir: string): InstalledKirin[] {
  let names: string[];
  try {
    names = readdirSync(unitDir).filter((n) => n.endsWith('.service')).sort();
  } catch {
    return [];
  }
  const found: InstalledKirin[] = [];
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(join(unitDir, name), 'utf8');
    } catch {
      continue;
    }
    if (!text.includes(INSTALL_MARK)) continue;
    const sections = parseUnit(text);
    const words = unitValues(sections, 'Service', 'ExecStart').map(splitUnitWords)[0] ?? [];
    const config = words.indexOf('--config');
    const stateDirectory = unitValues(sections, 'Service', 'StateDirectory')[0]?.split(/\s+/)[0] ?? name.replace(/\.service$/, '');
    found.push({ unit: name, configFile: config === -1 ? null : (words[config + 1] ?? null), stateDirectory: `/var/lib/${stateDirectory}` });
  }
  return found;
}
