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

/**
 * V8 flags for the master (`kirin serve`), which supervises and never handles a
 * request. V8's lite mode (no optimizing compilers, feedback vectors allocated
 * lazily) takes ~12 MB off its RSS (69 → 57 MB with the demo config) at no cost
 * measurable in a reload or `kirin status` (docs/benchmarks.md, part 3). Workers
 * never get it: they are started without the master's flags, and their
 * throughput needs the optimizing compilers.
 */
export const MASTER_V8_FLAGS: readonly string[] = ['--lite-mode'];

/** The commands whose process is the master. */
export function runsMaster(argv: readonly string[]): boolean {
  return argv[0] === 'serve';
}
