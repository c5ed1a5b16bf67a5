/**
 * The upload: rsync over the host's SSH connection into a fresh folder, with
 * `--link-dest` against the current release so unchanged files become hard
 * links there and only changed files travel. The folder sits in
 * .kirin/incoming until the release is complete, so a dropped connection or a
 * full disk never leaves a half release among releases/.
 */
import { spawn } from 'node:child_process';
import { relative } from 'node:path';
import { KirinError } from '../errors.ts';
import { forEachLine } from '../util/lines.ts';
import type { DeployPlan } from './config.ts';
import type { Host } from './host.ts';
import { rsyncRemote } from './host-spec.ts';
import { lastLine } from './ssh-errors.ts';

/** Never uploaded: history, dependencies (installed on the host) and secrets (the env file goes its own way). */
export const ALWAYS_EXCLUDED = ['/.git/', '/node_modules/', '/.env', '/.env.*'];
const ALWAYS_INCLUDED = ['/.env.example'];

export interface UploadStats {
  /** Files rsync sent (changed or new); unchanged ones were linked. */
  filesTransferred: number;
  /** Files in the release. */
  files: number;
  /** Bytes of the files sent. */
  bytesTransferred: number;
  /** Bytes on the wire, compressed and with rsync's own traffic. */
  bytesSent: number;
}

/** What is left out of a release, as rsync filter options (the first match wins). */
export function rsyncFilters(plan: DeployPlan): string[] {
  return [
    ...ALWAYS_INCLUDED.map((p) => `--include=${p}`),
    ...ALWAYS_EXCLUDED.map((p) => `--exclude=${p}`),
    // Shared paths live in shared/ on the host; the local copies are not the host's.
    ...plan.shared.map((p) => `--exclude=/${p}`),
    ...(plan.envFile && !relative(plan.projectDir, plan.envFile).startsWith('..') ? [`--exclude=/${relative(plan.projectDir, plan.envFile)}`] : []),
    ...plan.exclude.map((p) => `--exclude=${p}`),
  ];
}

export function rsyncArgs(plan: DeployPlan, host: Host, releaseId: string, linkDest: string | null): string[] {
  return [
    '--archive',
    '--delete',
    '--compress',
    '--stats',
    ...(linkDest ? [`--link-dest=${linkDest}`] : []),
    ...rsyncFilters(plan),
    '-e',
    host.ssh.rsyncShell(),
    `${plan.projectDir}/`,
    rsyncRemote(host.ssh.spec, `${host.layout.incoming(releaseId)}/`),
  ];
}

/** Uploads the project into the host's incoming folder; resolves with rsync's statistics. */
export function upload(plan: DeployPlan, host: Host, releaseId: string, linkDest: string | null): Promise<UploadStats> {
  const args = rsyncArgs(plan, host, releaseId, linkDest);
  return new Promise((resolve, reject) => {
    const child = spawn('rsync', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => (stdout += chunk));
    forEachLine(child.stderr!, (line) => (stderr += `${line}\n`));
    child.once('error', (error) => reject(new KirinError('KIRIN_ERR_DEPLOY', `cannot run rsync: ${error.message}; install rsync`)));
    child.once('close', (code) => {
      if (code === 0) return resolve(parseRsyncStats(stdout));
      reject(new KirinError('KIRIN_ERR_DEPLOY', explainRsyncFailure(host.label, code ?? -1, stderr, host.layout.root)));
    });
  });
}

/** Reads `rsync --stats` (numbers may carry thousands separators). */
export function parseRsyncStats(text: string): UploadStats {
  const number = (label: string): number => {
    const match = new RegExp(`${label}:\\s*([\\d,.]+)`).exec(text);
    return match ? Number(match[1]!.replace(/[,.]/g, '')) : 0;
  };
  return {
    filesTransferred: number('Number of regular files transferred'),
    files: number('Number of files'),
    bytesTransferred: number('Total transferred file size'),
    bytesSent: number('Total bytes sent'),
  };
}

/** rsync's failure in words: the host's disk, a dropped connection, rsync missing there. */
export function explainRsyncFailure(label: string, code: number, stderr: string, root: string): string {
  const tail = lastLine(stderr.split('\n').filter((l) => !/^rsync error:/.test(l)).join('\n')) || lastLine(stderr);
  if (/No space left on device|Disk quota exceeded/i.test(stderr)) {
    return `${label}: the host ran out of disk space during the upload (${/Disk quota exceeded/i.test(stderr) ? 'quota exceeded' : 'No space left on device'}); nothing was switched. Free space in ${root} (\`df -h ${root}\`; \`kirin deploy\` keeps fewer releases with deploy.keep).`;
  }
  if (/rsync: (command )?not found|rsync: not found|command not found/i.test(stderr) || code === 127) {
    return `${label}: rsync is not installed on the host: sudo apt-get install rsync`;
  }
  if (/connection unexpectedly closed|Broken pipe|Connection reset|closed by remote host|error in rsync protocol data stream|Timeout, server/i.test(stderr) || code === 12 || code === 255 || code === 30 || code === 35) {
    return `${label}: the connection dropped during the upload (${tail}); the release was not switched and the current one still serves. Run the deploy again: files the current release already has are not sent again.`;
  }
  return `${label}: the upload failed (rsync exit ${code}): ${tail}`;
}
