/**
 * The config lookup `check`, `install` and `export` share with `serve`: an app
 * path, `--config FILE`, or kirin.config.* in the current folder — so each of
 * them works on exactly what `kirin serve` would run.
 */
import { KirinError } from '../errors.ts';
import { parseCommandLine, type Options } from './args.ts';
import { parseServeArgs, SERVE_HELP, type ServeArgs } from './serve.ts';

export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const satisfies Options;
/** --verbose of the deploy commands: the time each remote command took. */
export const VERBOSE_OPTION = { verbose: { type: 'boolean' } } as const satisfies Options;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

/** Parses the command's flags (and -h); throws a usage error with the command's help. */
export function parseOpsArgs<T extends Options>(argv: string[], options: T, help: string, maxPositionals = 1) {
  return parseCommandLine(argv, { ...HELP_OPTION, ...options }, help, maxPositionals);
}

/** The app and config file, found the way `kirin serve` finds them. */
export function resolveServeArgs(config: string | undefined, app: string | undefined, cwd: string, help: string): ServeArgs {
  const argv = [...(config !== undefined ? ['--config', config] : []), ...(app !== undefined ? [app] : [])];
  try {
    const args = parseServeArgs(argv, cwd);
    if (args === 'help') throw new Error('unreachable');
    return args;
  } catch (error) {
    if (error instanceof KirinError) throw new KirinError(error.code, error.message.replace(SERVE_HELP, help));
    throw error;
  }
}

/** Reads a whole-number flag. */
export function integerFlag(flag: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new KirinError('KIRIN_ERR_USAGE', `${flag}: expected a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got "${value}"`);
  return n;
}
