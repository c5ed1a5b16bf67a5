/**
 * Turning an uploaded folder into a release, on the host, before anything
 * serves it: its env file, its dependencies, its shared paths, the audit, and
 * only then a place among releases/. Any failure here leaves the current
 * release untouched.
 */
import { readFileSync } from 'node:fs';
import { KirinError } from '../errors.ts';
import type { DeployPlan } from './config.ts';
import type { Host } from './host.ts';
import { RELEASE_INFO, type ReleaseInfo } from './layout.ts';
import { command, fact, readFacts } from './shell.ts';

/**
 * Uploads the env file through ssh's stdin (never in a command line, never
 * printed), 0600 in shared/env/<id>, and links it as the release's .env — so
 * a rollback brings back the variables the release ran with.
 */
export async function installEnvFile(plan: DeployPlan, host: Host, releaseId: string): Promise<void> {
  if (!plan.envFile) return;
  const { layout } = host;
  const target = layout.envFile(releaseId);
  const script = [
    'umask 077',
    `mkdir -p ${command(`${layout.shared}/env`)}`,
    `cat > ${command(`${target}.tmp`)}`,
    `chmod 600 ${command(`${target}.tmp`)}`,
    `mv -f ${command(`${target}.tmp`)} ${command(target)}`,
    `ln -sfn ${command(target)} ${command(`${layout.incoming(releaseId)}/.env`)}`,
  ].join(' && ');
  await host.must(script, 'uploading the env file', { input: readFileSync(plan.envFile), quiet: true });
}

export type InstallKind = 'npm ci' | 'reused';

/**
 * `npm ci --omit=dev` in the new release with npm's cache (shared by every
 * release), or hard links to the current release's node_modules when the
 * lockfile did not change.
 */
export async function installDependencies(host: Host, releaseId: string, current: string | null): Promise<InstallKind> {
  const dir = host.layout.incoming(releaseId);
  const previous = current ? host.layout.release(current) : null;
  const reuse = previous
    ? `[ -d ${command(`${previous}/node_modules`)} ] && cmp -s package-lock.json ${command(`${previous}/package-lock.json`)}`
    : 'false';
  const script = [
    'set -e',
    `cd ${command(dir)}`,
    `if ${reuse}; then`,
    `  cp -al ${command(`${previous}/node_modules`)} node_modules`,
    `  ${fact('install', 'reused')}`,
    'else',
    '  npm ci --omit=dev --no-audit --no-fund --prefer-offline',
    `  ${fact('install', 'npm ci')}`,
    'fi',
    `[ -f node_modules/kirin/dist/cli/bin.js ] || { echo "the app does not depend on kirin (node_modules/kirin is missing): run npm install kirin and commit package.json and package-lock.json" >&2; exit 3; }`,
  ].join('\n');
  const result = await host.run(script, { what: 'install the dependencies' });
  if (result.code !== 0) {
    throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: installing the dependencies failed (exit ${result.code}); the release was not switched. ${lastMeaningfulLine(result.stderr)}`);
  }
  return readFacts(result.stdout).install === 'reused' ? 'reused' : 'npm ci';
}

/**
 * Links each shared path into the release. A missing one is seeded from the
 * release when it has it (the upload leaves shared paths out, so only what a
 * build step or the install made), else a folder (`'uploads/'`) starts empty
 * and a file's folder is made, so the app can create the file through the link.
 */
export async function linkShared(plan: DeployPlan, host: Host, releaseId: string): Promise<void> {
  if (plan.shared.length === 0) return;
  const { layout } = host;
  const dir = layout.incoming(releaseId);
  const lines = ['set -e'];
  for (const path of plan.shared) {
    const shared = `${layout.shared}/${path}`;
    const inRelease = `${dir}/${path}`;
    lines.push(
      `if [ ! -e ${command(shared)} ] && [ ! -L ${command(shared)} ]; then`,
      `  mkdir -p "$(dirname ${command(shared)})"`,
      `  if [ -e ${command(inRelease)} ]; then cp -a ${command(inRelease)} ${command(shared)}; ${plan.sharedFolders.includes(path) ? `else mkdir ${command(shared)}; ` : ''}fi`,
      'fi',
      `rm -rf ${command(inRelease)}`,
      `mkdir -p "$(dirname ${command(inRelease)})"`,
      `ln -s ${command(shared)} ${command(inRelease)}`,
    );
  }
  await host.must(lines.join('\n'), 'linking the shared paths');
}

/** `kirin check --deploy` with the release's own Kirin; an error stops the deploy. */
export async function checkRelease(plan: DeployPlan, host: Host, releaseId: string): Promise<void> {
  const dir = host.layout.incoming(releaseId);
  const script = `cd ${command(dir)} && NODE_ENV=production node node_modules/kirin/dist/cli/bin.js check --deploy --config ${command(plan.configName)}`;
  const result = await host.run(script, { what: 'kirin check --deploy' });
  if (result.code !== 0) {
    throw new KirinError('KIRIN_ERR_DEPLOY', `${host.label}: \`kirin check --deploy\` found errors in the new release (above); nothing was switched. Each says what to change (docs/checks.md); \`kirin check --deploy\` here shows them before a deploy.`);
  }
}

/** Records that the release passed the health gate as the current one (rollback's default skips those that never did). */
export async function markServed(host: Host, info: ReleaseInfo): Promise<void> {
  const file = `${host.layout.release(info.id)}/${RELEASE_INFO}`;
  const served: ReleaseInfo = { ...info, servedAt: new Date().toISOString() };
  await host.must(`cat > ${command(`${file}.tmp`)} && mv -f ${command(`${file}.tmp`)} ${command(file)}`, 'recording the release as served', { input: `${JSON.stringify(served)}\n`, quiet: true });
}

/** Writes what the release records about itself and moves it among releases/. */
export async function finalizeRelease(host: Host, info: ReleaseInfo): Promise<void> {
  const { layout } = host;
  const script = [
    `cat > ${command(`${layout.incoming(info.id)}/${RELEASE_INFO}`)}`,
    `mkdir -p ${command(layout.releases)}`,
    `mv ${command(layout.incoming(info.id))} ${command(layout.release(info.id))}`,
  ].join(' && ');
  await host.must(script, 'moving the release into place', { input: `${JSON.stringify(info)}\n`, quiet: true });
}

/** Removes what a failed deploy left in incoming (never a release). */
export async function discardIncoming(host: Host, releaseId: string): Promise<void> {
  const { layout } = host;
  await host.run(`rm -rf ${command(layout.incoming(releaseId))} ${command(layout.envFile(releaseId))}`, { quiet: true }).catch(() => {});
}

function lastMeaningfulLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^npm (error|ERR!) (A complete log|Run "npm help)/.test(l));
  return lines.slice(-3).join(' ');
}

/** Removes a release that does not serve (a hook failed before the switch, or it was switched back); never the current one. */
export async function discardRelease(host: Host, releaseId: string): Promise<void> {
  const { layout } = host;
  const script = `[ "$(readlink ${command(layout.current)})" = ${command(`releases/${releaseId}`)} ] || rm -rf ${command(layout.release(releaseId))} ${command(layout.envFile(releaseId))}`;
  await host.run(script, { quiet: true }).catch(() => {});
}
