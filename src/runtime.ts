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
 * request, so neither costs anything a user waits on (a reload and `kirin
 * status` take as long; docs/benchmarks.md, memory part 3):
 *   --max-opt=0               its JavaScript stays in the interpreter: no Sparkplug,
 *                             Maglev or TurboFan code, no compiler zones (~ -10 MB RSS)
 *   --max-semi-space-size=1   a 1 MB young generation instead of up to 16 MB; it
 *                             allocates little, so scavenges stay rare and short (~ -3 MB)
 * Not `--lite-mode`, which saves as much but turns WebAssembly off, and with it
 * Node's fetch (undici's llhttp): the master's webhooks and ddns updates need it.
 * Workers never get these flags: they are started without the master's, and
 * their throughput needs the compilers and a young generation that fits a burst.
 */
export const MASTER_V8_FLAGS: readonly string[] = ['--max-opt=0', '--max-semi-space-size=1'];

/** The commands whose process is the master. */
export function runsMaster(argv: readonly string[]): boolean {
  return argv[0] === 'serve';
}
