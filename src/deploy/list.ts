/** `kirin releases`: per host, the releases with their commit, time and deployer, and which is current. */
import type { DeployPlan } from './config.ts';
import { Host } from './host.ts';
import type { Progress } from './progress.ts';
import { listReleases, type HostReleases } from './releases-on-host.ts';
import { renderTable } from './table.ts';

export async function showReleases(plan: DeployPlan, progress: Progress, json: boolean): Promise<number> {
  const results = await Promise.all(plan.hosts.map(async (spec) => {
    const host = new Host(spec, plan.path, plan.sshConfig, progress);
    try {
      await host.ssh.connect();
      return { host: spec.label, ...(await listReleases(host)) };
    } finally {
      host.ssh.close();
    }
  }));
  if (json) {
    progress.line(JSON.stringify(results, null, 2));
    return 0;
  }
  for (const result of results) progress.line(`${result.host} (${plan.path})\n${formatReleases(result)}\n`);
  return 0;
}

export function formatReleases(list: HostReleases): string {
  if (list.releases.length === 0) return '  no releases yet';
  const rows = [['', 'RELEASE', 'COMMIT', 'DEPLOYED', 'BY', 'KIRIN', 'SERVED']];
  for (const { id, info } of [...list.releases].reverse()) {
    rows.push([
      id === list.current ? '*' : '',
      id,
      info?.commit ? `${info.commit}${info.dirty ? '+' : ''}` : '-',
      info?.deployedAt ? info.deployedAt.replace('T', ' ').slice(0, 19) : '-',
      info?.deployedBy ?? '-',
      info?.kirinVersion ?? '-',
      // null: its deploy stopped before the health gate passed (rollback skips it unless named).
      info?.servedAt === null ? 'never' : info?.servedAt ? info.servedAt.replace('T', ' ').slice(0, 19) : '-',
    ]);
  }
  return renderTable(rows).split('\n').map((l) => `  ${l}`).join('\n') + (list.current ? '' : '\n  (no current release)');
}
