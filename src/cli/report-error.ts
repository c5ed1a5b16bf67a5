/**
 * How a command's failure reaches the terminal: the message a user can act on,
 * no stack, unless it is a bug. A leaf module, so commands can use it without
 * importing the dispatcher that loads them.
 */
import { ExitCode, KirinError } from '../errors.ts';

export function reportCliError(error: unknown): number {
  if (error instanceof KirinError) {
    process.stderr.write(`kirin: ${error.message}\n`);
    return error.code === 'KIRIN_ERR_USAGE' ? ExitCode.USAGE : (error.exitCode ?? ExitCode.FAILURE);
  }
  process.stderr.write(`kirin: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return ExitCode.FAILURE;
}
