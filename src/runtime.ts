/**
 * Facts about the Node.js running Kirin.
 */

/** Kirin needs reusePort, type stripping and stable env files: Node 22.12 or newer. */
export const MINIMUM_NODE = [22, 12] as const;

export function nodeIsSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MINIMUM_NODE[0] || (major === MINIMUM_NODE[0] && minor >= MINIMUM_NODE[1]);
}

/**
 * The flags a process needs to import .ts files: none where type stripping is
 * on by default (Node 23.6+, 22.18+), `--experimental-strip-types` before.
 */
export function nodeFlagsForTypeScript(): string[] {
  const flags = ['--experimental-strip-types', '--disable-warning=ExperimentalWarning'];
  // Started with the flag (the CLI restarted itself with it): children need it too.
  if (process.execArgv.includes(flags[0]!)) return flags;
  const features = process.features as { typescript?: string | false };
  if (features.typescript) return [];
  return flags;
}
