/** `kirin reload` — zero-downtime reload; waits for the new generation and says how it went. */
import { ExitCode } from '../errors.ts';
import type { ReloadResult } from '../master/master.ts';
import { parseControlArgs, sendToMaster } from './control-args.ts';

const USAGE = `Usage: kirin reload [--state-dir DIR] [--config FILE] [--unit-dir DIR] [--json]

Re-reads the config, env files and app code, starts a new generation of
workers and swaps once all of them are ready. If the new generation fails, the
old one keeps serving and this command says why (exit 1). Same as SIGHUP.
Finds the master the way \`kirin status\` does.
`;

export async function run(argv: string[]): Promise<number> {
  const { args } = await parseControlArgs(argv, USAGE, { installed: true });
  if (args.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  const result = (await sendToMaster(args, 'reload')) as ReloadResult;
  if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (result.ok) process.stdout.write(`reloaded: generation ${result.generation} is serving\n`);
  else process.stderr.write(`kirin: reload failed, generation ${result.generation} keeps serving: ${result.error}\n`);
  return result.ok ? ExitCode.OK : ExitCode.FAILURE;
}
