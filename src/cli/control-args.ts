/**
 * Finding the running master from another shell: --state-dir, else the state
 * folder the config here names (or would default to), else this folder's default.
 */
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findConfigFile, loadConfigFile } from '../config/load.ts';
import { isPlainObject } from '../config/issues.ts';
import { defaultStateDir } from '../config/state-dir.ts';
import { KirinError } from '../errors.ts';

export const CONTROL_OPTIONS = {
  'state-dir': { type: 'string' },
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ControlArgs {
  stateDir: string;
  json: boolean;
  help: boolean;
}

export async function parseControlArgs(argv: string[], usage: string): Promise<ControlArgs> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: CONTROL_OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new KirinError('KIRIN_ERR_USAGE', `${(error as Error).message}\n\n${usage}`);
  }
  const cwd = process.cwd();
  const help = values.help === true;
  const json = values.json === true;
  if (values['state-dir']) return { stateDir: resolve(cwd, values['state-dir']), json, help };
  const configFile = values.config ? resolve(cwd, values.config) : findConfigFile(cwd);
  if (configFile) {
    const raw = await loadConfigFile(configFile);
    if (isPlainObject(raw) && typeof raw.stateDir === 'string') return { stateDir: resolve(dirname(configFile), raw.stateDir), json, help };
    return { stateDir: defaultStateDir(dirname(configFile), process.env), json, help };
  }
  return { stateDir: defaultStateDir(cwd, process.env), json, help };
}
