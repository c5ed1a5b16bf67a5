/**
 * What the deploy commands share: the config file (found like `kirin serve`
 * finds it), its deploy section, and the plan the host will serve (for the
 * health gate's addresses).
 */
import { resolve } from 'node:path';
import { findConfigFile, loadConfigFile } from '../config/load.ts';
import { normalizeConfig } from '../config/normalize.ts';
import type { ServePlan } from '../config/plan.ts';
import { normalizeDeploy, type DeployPlan } from '../deploy/config.ts';
import { KirinError } from '../errors.ts';

export async function loadDeployConfig(config: string | undefined, cwd: string, help: string): Promise<{ plan: DeployPlan; serve: ServePlan }> {
  const file = config !== undefined ? resolve(cwd, config) : findConfigFile(cwd);
  if (file === null) throw new KirinError('KIRIN_ERR_USAGE', `no kirin.config.* in ${cwd}: the deploy section lives in it (or pass --config FILE)\n\n${help}`);
  const raw = await loadConfigFile(file);
  const plan = normalizeDeploy(raw, file);
  const serve = normalizeConfig({ raw, file, cwd, env: process.env });
  return { plan, serve };
}

/** The command line, for the lock's record of who holds it. */
export function commandLine(name: string, argv: string[]): string {
  return ['kirin', name, ...argv].join(' ');
}
