/**
 * Reading and pruning a host's releases.
 */
import type { Host } from './host.ts';
import { RELEASE_ID, RELEASE_INFO, type ReleaseInfo } from './layout.ts';
import { command, FACT_PREFIX, shellQuote } from './shell.ts';

export interface HostReleases {
  /** Oldest first. */
  releases: { id: string; info: ReleaseInfo | null }[];
  current: string | null;
}

export async function listReleases(host: Host): Promise<HostReleases> {
  return parseReleases((await host.must(releasesScript(host), 'listing the releases', { quiet: true })).stdout);
}

/** Prints `current` as a fact and one line per release: its id, a tab, its release info. */
export function releasesScript(host: Host): string {
  const { layout } = host;
  return [
    `printf '%s\\n' "${FACT_PREFIX}current=$(readlink ${command(layout.current)} 2>/dev/null)"`,
    `for d in ${command(layout.releases)}/*/; do [ -d "$d" ] || continue; printf '%s\\t' "$(basename "$d")"; tr -d '\\n' < "$d${RELEASE_INFO}" 2>/dev/null; echo; done`,
  ].join('\n');
}

/** Reads what `releasesScript` printed (other lines are ignored). */
export function parseReleases(stdout: string): HostReleases {
  const out: HostReleases = { releases: [], current: null };
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${FACT_PREFIX}current=`)) {
      const id = line.slice(`${FACT_PREFIX}current=`.length).split('/').pop() ?? '';
      out.current = RELEASE_ID.test(id) ? id : null;
      continue;
    }
    const [id, json] = line.split('\t');
    if (!id || !RELEASE_ID.test(id)) continue;
    let info: ReleaseInfo | null = null;
    try {
      info = json ? (JSON.parse(json) as ReleaseInfo) : null;
    } catch {
      info = null;
    }
    out.releases.push({ id, info });
  }
  out.releases.sort((a, b) => a.id.localeCompare(b.id));
  return out;
}

/**
 * The releases to remove: all but the newest `keep`, never the current one
 * and never one a running master still runs from.
 */
export function releasesToPrune(ids: string[], keep: number, protectedIds: (string | null)[]): string[] {
  const sorted = [...ids].sort();
  const kept = new Set(sorted.slice(-keep));
  for (const id of protectedIds) if (id) kept.add(id);
  // The protected ones count toward keep: drop the oldest unprotected extras.
  const extra = kept.size - keep;
  if (extra > 0) {
    const removable = sorted.filter((id) => kept.has(id) && !protectedIds.includes(id));
    for (const id of removable.slice(0, extra)) kept.delete(id);
  }
  return sorted.filter((id) => !kept.has(id));
}

export async function removeReleases(host: Host, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const { layout } = host;
  const paths = ids.flatMap((id) => [layout.release(id), layout.envFile(id)]);
  // Leftovers of deploys that failed mid-way go too (never the one running now: it is already a release).
  await host.must(`rm -rf ${paths.map(shellQuote).join(' ')}`, 'removing old releases', { quiet: true });
}

/** The release before `current` that once served (rollback's default target). */
export function previousRelease(list: HostReleases): string | null {
  if (!list.current) return null;
  const older = list.releases.filter((r) => r.id < list.current! && r.info?.servedAt !== null).map((r) => r.id);
  return older.at(-1) ?? null;
}
