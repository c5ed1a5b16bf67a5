/**
 * Hooks: the user's commands (migrations, collectstatic) run on the host in
 * the release's folder, with the variables of its env file — parsed by Node's
 * --env-file, the same parser Kirin uses for envFiles — and NODE_ENV=production.
 */
import { KirinError } from '../errors.ts';
import type { Hook, HookPhase } from './config.ts';
import type { Host } from './host.ts';
import { command } from './shell.ts';

// Runs the hook through sh and exits with its status; argv[1] is the hook.
const RUNNER = "const r = require('node:child_process').spawnSync(process.argv[1], { shell: '/bin/sh', stdio: 'inherit' }); process.exit(r.status ?? 1);";

export function hookScript(releaseDir: string, releaseId: string, hook: Hook): string {
  return [
    `cd ${command(releaseDir)}`,
    `NODE_ENV=\${NODE_ENV:-production} KIRIN_RELEASE=${command(releaseId)} KIRIN_RELEASE_PATH=${command(releaseDir)} exec node --env-file-if-exists=.env -e ${command(RUNNER)} ${command(hook.run)}`,
  ].join(' && ');
}

/** Runs the hooks in order; the first that fails stops the deploy, naming it. */
export async function runHooks(host: Host, phase: HookPhase, hooks: Hook[], releaseDir: string, releaseId: string): Promise<void> {
  for (const hook of hooks) {
    const result = await host.run(hookScript(releaseDir, releaseId, hook), { what: `${phase} hook: ${hook.run}` });
    if (result.code !== 0) {
      const after = phase === 'afterSwitch' ? 'the new release serves; fix the hook and run it by hand' : 'nothing was switched; the current release still serves';
      throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: the ${phase} hook \`${hook.run}\` failed (exit ${result.code}); ${after}.`);
    }
  }
}
