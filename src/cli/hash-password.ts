/** `kirin hash-password [--argon2]` — a password hash for a route's `auth.users`. */
import { ExitCode, KirinError } from '../errors.ts';
import { hashPassword, type HashKind } from '../middleware/password-hash.ts';
import { parseCommandLine } from './args.ts';

const USAGE = `Usage: kirin hash-password [--argon2]

Reads a password and prints its hash for a route's auth.users:

  sites: { 'example.com': { '/admin/': { app: './app.ts', auth: { users: { alice: '<hash>' } } } } }

On a terminal it asks twice without echoing; otherwise it reads the first line
of standard input (echo "$PASSWORD" | kirin hash-password).

  --argon2   argon2id (19 MiB, 2 passes) instead of bcrypt (cost 11)
  -h, --help this text
`;

/** bcrypt uses only this many bytes of a password. */
const BCRYPT_MAX_BYTES = 72;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(argv, { argon2: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, USAGE, 0);
  if (values.help) {
    process.stdout.write(USAGE);
    return ExitCode.OK;
  }
  const kind: HashKind = values.argon2 ? 'argon2' : 'bcrypt';
  const password = process.stdin.isTTY ? await promptTwice() : await readFirstLine(process.stdin);
  if (password === '') throw new KirinError('KIRIN_ERR_USAGE', 'the password is empty');
  if (kind === 'bcrypt' && Buffer.byteLength(password) > BCRYPT_MAX_BYTES) {
    process.stderr.write(`kirin: bcrypt uses only the first ${BCRYPT_MAX_BYTES} bytes of a password; use --argon2 for longer ones\n`);
  }
  process.stdout.write(`${await hashPassword(password, kind)}\n`);
  return ExitCode.OK;
}

async function promptTwice(): Promise<string> {
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Again: ');
  if (first !== second) throw new KirinError('KIRIN_ERR_USAGE', 'the two passwords differ');
  return first;
}

/** Reads one line from the terminal in raw mode, echoing nothing. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Raw mode (no echo) before the prompt: what is typed as soon as it shows must not appear.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error: Error | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (data: string) => {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(null);
        if (ch === '\u0003') return finish(new KirinError('KIRIN_ERR_USAGE', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** The first line of a pipe (without its line ending): `echo pw |` and `printf pw |` give the same password. */
async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  const newline = text.indexOf('\n');
  const line = newline === -1 ? text : text.slice(0, newline);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
