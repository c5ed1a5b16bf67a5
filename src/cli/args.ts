/**
 * Reading a command's flags: node:util's parseArgs, with usage errors a person
 * can act on — an unknown flag gets "did you mean" from the same rule as
 * unknown config keys and commands.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '../config/issues.ts';
import { KirinError } from '../errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandLine<T extends Options>(argv: string[], options: T, help: string, maxPositionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(error as Error & { code?: string }, options, help);
  }
  const extra = parsed.positionals[maxPositionals];
  if (extra !== undefined) throw new KirinError('KIRIN_ERR_USAGE', `unexpected argument "${extra}"\n\n${help}`);
  return parsed;
}

function usageError(error: Error & { code?: string }, options: Options, help: string): KirinError {
  const unknown = error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']+)'/.exec(error.message)?.[1] : undefined;
  if (unknown === undefined) return new KirinError('KIRIN_ERR_USAGE', `${error.message}\n\n${help}`);
  const names = Object.entries(options).flatMap(([name, option]) => [`--${name}`, ...(option.short ? [`-${option.short}`] : [])]);
  const suggestion = unknown.startsWith('--') ? closest(unknown, names.filter((n) => n.startsWith('--'))) : undefined;
  return suggestion
    ? new KirinError('KIRIN_ERR_USAGE', `unknown option ${unknown} (did you mean ${suggestion}?)`)
    : new KirinError('KIRIN_ERR_USAGE', `unknown option ${unknown}\n\n${help}`);
}
