/**
 * The laptop's (or CI's) side before any upload: the build command, the git
 * commit a release records, and the tools the deploy drives.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { KirinError } from '../errors.ts';
import { forEachLine } from '../util/lines.ts';
import type { DeployPlan } from './config.ts';

/** Runs `deploy.build` in the project folder, its output shown as it comes. */
export function runBuild(plan: DeployPlan, onLine: (line: string) => void): Promise<void> {
  const build = plan.build;
  if (!build) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', build], { cwd: plan.projectDir, stdio: ['ignore', 'pipe', 'pipe'] });
    forEachLine(child.stdout!, onLine);
    forEachLine(child.stderr!, onLine);
    child.once('error', (error) => reject(new KirinError('KIRIN_ERR_DEPLOY', `the build command could not start: ${error.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new KirinError('KIRIN_ERR_DEPLOY', `the build command \`${build}\` failed (exit ${code}); nothing was uploaded`));
    });
  });
}

export interface SourceInfo {
  commit: string | null;
  dirty: boolean;
}

/** The git commit being deployed (null outside a repository), and whether files differ from it. */
export function sourceInfo(projectDir: string): SourceInfo {
  const rev = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: projectDir, encoding: 'utf8' });
  if (rev.status !== 0) return { commit: null, dirty: false };
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: projectDir, encoding: 'utf8' });
  return { commit: rev.stdout.trim(), dirty: status.status === 0 && status.stdout.trim() !== '' };
}

export function deployer(): string {
  let user = process.env.GITHUB_ACTOR ? `${process.env.GITHUB_ACTOR} (GitHub Actions)` : '';
  if (!user) {
    try {
      user = `${userInfo().username}@${hostname()}`;
    } catch {
      user = `${process.env.USER ?? 'unknown'}@${hostname()}`;
    }
  }
  return user;
}

/** The local checks that need no host: rsync and ssh installed, a lockfile to install from. */
export function localProblems(plan: DeployPlan): string[] {
  const problems: string[] = [];
  if (spawnSync('rsync', ['--version'], { stdio: 'ignore' }).error) problems.push('rsync is not installed here (it uploads the release): sudo apt-get install rsync, or brew install rsync');
  if (spawnSync('ssh', ['-V'], { stdio: 'ignore' }).error) problems.push('the OpenSSH client (ssh) is not installed here');
  if (!existsSync(join(plan.projectDir, 'package.json'))) problems.push(`${plan.projectDir} has no package.json: the host installs the app's dependencies (kirin among them) with npm ci`);
  else if (!existsSync(join(plan.projectDir, 'package-lock.json'))) problems.push(`${plan.projectDir} has no package-lock.json: run npm install and commit it (the host installs exactly what it lists)`);
  return problems;
}
