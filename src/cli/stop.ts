/** `kirin stop` — graceful stop (drain in-flight requests), or --fast. */
import { sendControl } from '../master/control.ts';
import { ExitCode } from '../errors.ts';
import { parseControlArgs } from './control-args.ts';

const USAGE = `Usage: kirin stop [--fast] [--state-dir DIR] [--config FILE]

Stops the running Kirin: workers finish their in-flight requests (up to the
graceful timeout), then everything exits. --fast stops at once. Same as SIGTERM
(graceful) and SIGQUIT (fast).
`;

export async function run(argv: string[]): Promise<number> {
  const fast = argv.includes('--fast');
  const args = await parseControlArgs(
    argv.filter((a) => a !== '--fast'),
    USAGE,
  );
  if (args.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  await sendControl(args.stateDir, 'stop', { fast });
  process.stdout.write(fast ? 'stopping now\n' : 'stopping: workers are finishing their requests\n');
  return ExitCode.OK;
}
