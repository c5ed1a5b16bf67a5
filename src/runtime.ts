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
 * request. `--max-opt=0` keeps its JavaScript in the interpreter (no Sparkplug,
 * Maglev or TurboFan code, no compiler threads' zones): 69 → 57 MB RSS with the
 * demo config, at no cost measurable in a reload or `kirin status`
 * (docs/benchmarks.md, memory part 3). Not `--lite-mode`, which saves the same
 * but turns WebAssembly off, and with it Node's fetch (undici's llhttp): the
 * master's webhooks and ddns updates need it. Workers never get these flags:
 * they are started without the master's, and their throughput needs the compilers.
 */
export const MASTER_V8_FLAGS: readonly string[] = ['--max-opt=0'];

/** The commands whose process is the master. */
export function runsMaster(argv: readonly string[]): boolean {
  return argv[0] === 'serve';
}
