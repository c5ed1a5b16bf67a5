/** `kirin stop` — graceful stop (drain in-flight requests), or --fast. */
import { ExitCode } from '../errors.ts';
import { parseControlArgs, sendToMaster } from './control-args.ts';

const USAGE = `Usage: kirin stop [--fast] [--state-dir DIR] [--config FILE] [--unit-dir DIR]

Stops the running Kirin: workers finish their in-flight requests (up to the
graceful timeout), then everything exits. --fast stops at once. Same as SIGTERM
(graceful) and SIGQUIT (fast). Finds the master the way \`kirin status\` does.
`;

export async function run(argv: string[]): Promise<number> {
  const { args, values } = await parseControlArgs(argv, USAGE, { installed: true }, { fast: { type: 'boolean' } });
  const fast = values.fast === true;
  if (args.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  await sendToMaster(args, 'stop', { fast });
  process.stdout.write(fast ? 'stopping now\n' : 'stopping: workers are finishing their requests\n');
  return ExitCode.OK;
}
