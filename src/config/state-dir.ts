/**
 * Kirin's state folder: the control socket, certificates, locks.
 *
 * Under systemd (`StateDirectory=kirin`) it is $STATE_DIRECTORY. Otherwise one
 * folder per project under the user's state home, so that `kirin status` run in
 * the project finds the master started there, and two projects never share a
 * control socket.
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { isPlainObject } from './issues.ts';
import { loadConfigFile } from './load.ts';

export function defaultStateDir(projectDir: string, env: NodeJS.ProcessEnv): string {
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0]!;
  const project = resolve(projectDir);
  const name = `${basename(project).replace(/[^A-Za-z0-9_.-]/g, '_') || 'root'}-${createHash('sha256').update(project).digest('hex').slice(0, 8)}`;
  const home = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(home, 'kirin', name);
}

/** The state folder a config file's Kirin uses: its stateDir, else the default for its folder. */
export async function stateDirOfConfig(configFile: string, env: NodeJS.ProcessEnv): Promise<string> {
  const raw = await loadConfigFile(configFile);
  if (isPlainObject(raw) && typeof raw.stateDir === 'string') return resolve(dirname(configFile), raw.stateDir);
  return defaultStateDir(dirname(configFile), env);
}
