/**
 * K008–K010: where the secrets live. An env file should be readable by the
 * service alone, never committed, and never inside a folder Kirin serves.
 */
import { statSync } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import type { StaticHandlerPlan } from '../../config/plan.ts';
import { finding, type Finding } from './catalog.ts';
import type { AuditContext } from './context.ts';

export function checkEnvFilePermissions(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  for (const file of ctx.envFiles) {
    let mode: number;
    try {
      mode = statSync(file.path).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o004) === 0) continue;
    findings.push(
      finding(
        'K008',
        `${file.path} has mode ${mode.toString(8).padStart(4, '0')}: every user on this machine can read its secrets`,
        `chmod 600 ${file.path} (owned by the service's user), or chmod 640 with the service's group`,
        file.path,
      ),
    );
  }
  return findings;
}

export async function checkEnvFilesInGit(ctx: AuditContext): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const file of ctx.envFiles) {
    if (file.vars === null) continue;
    const result = await ctx.run('git', ['ls-files', '--error-unmatch', '--', basename(file.path)], { cwd: dirname(file.path) });
    if (result === null) {
      if (!ctx.notes.includes('git is not installed: env files were not checked against the repository')) ctx.notes.push('git is not installed: env files were not checked against the repository');
      return findings;
    }
    if (result.stderr.includes('dubious ownership')) {
      ctx.notes.push(`git refused to read the repository of ${file.path} (owned by another user); run kirin check as that user to check K009`);
      continue;
    }
    if (result.code !== 0) continue;
    findings.push(
      finding(
        'K009',
        `${file.path} is tracked by git: its secrets are in the repository and its history`,
        `git rm --cached ${basename(file.path)} && echo '${basename(file.path)}' >> .gitignore (in ${dirname(file.path)}), then replace every secret in it: the old values stay in the history`,
        file.path,
      ),
    );
  }
  return findings;
}

export function staticRoots(ctx: AuditContext): { root: string; at: string }[] {
  if (!ctx.plan) return [];
  const roots: { root: string; at: string }[] = [];
  for (const site of ctx.plan.sites) {
    for (const route of site.routes) {
      if (route.handler.type === 'static') roots.push({ root: (route.handler as StaticHandlerPlan).root, at: route.at });
    }
  }
  return roots;
}

/** True when `path` is `root` or below it (a path-boundary check, not a string prefix). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}

export function checkSecretFilesInStaticRoots(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  const secretFiles = [...ctx.envFiles.map((f) => f.path), ...(ctx.configFile ? [ctx.configFile] : [])];
  for (const { root, at } of staticRoots(ctx)) {
    for (const path of secretFiles) {
      if (!isInside(root, path)) continue;
      findings.push(
        finding(
          'K010',
          `${path} is inside ${root}, the static root of ${at}: one mistake (a symlink, another server, a changed rule) publishes it`,
          `serve a folder that holds only public files, e.g. static: './public', and keep ${basename(path)} outside it`,
          path,
        ),
      );
    }
  }
  return findings;
}
