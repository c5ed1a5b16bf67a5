/**
 * `kirin secret [--length N]` — print a new random secret.
 */
import { ExitCode, KirinError } from '../errors.ts';
import { DEFAULT_SECRET_LENGTH, generateSecret, MAX_SECRET_LENGTH, MIN_SECRET_LENGTH } from '../ops/secret.ts';
import { integerFlag, parseOpsArgs } from './ops-args.ts';

export const SECRET_HELP = `Usage: kirin secret [--length N]

Prints a random secret from the operating system's CSPRNG, in letters, digits,
"-" and "_" (safe in env files, URLs and shells). Use it for SECRET_KEY,
session keys and admin.token:

  echo "SECRET_KEY=$(npx kirin secret)" >> .env

Options:
  -l, --length N   characters (default ${DEFAULT_SECRET_LENGTH}; at least ${MIN_SECRET_LENGTH}, the length kirin check asks for)
      --force      allow a length below ${MIN_SECRET_LENGTH}, for systems that cap it
  -h, --help       this help
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOpsArgs(argv, { length: { type: 'string', short: 'l' }, force: { type: 'boolean' } }, SECRET_HELP, 0);
  if (values.help) {
    process.stdout.write(SECRET_HELP);
    return ExitCode.OK;
  }
  const length = integerFlag('--length', values.length, DEFAULT_SECRET_LENGTH, 1, MAX_SECRET_LENGTH);
  if (length < MIN_SECRET_LENGTH && !values.force) {
    throw new KirinError('KIRIN_ERR_USAGE', `--length ${length} is below ${MIN_SECRET_LENGTH}: kirin check (K004) flags shorter secrets; add --force if the system using it cannot take more`);
  }
  process.stdout.write(`${generateSecret(length)}\n`);
  return ExitCode.OK;
}
