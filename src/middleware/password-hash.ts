/**
 * Password hashes for `auth` and `kirin hash-password`: bcrypt ($2a$, $2b$,
 * $2y$, and legacy $2x$) and argon2 ($argon2id$, $argon2i$, $argon2d$).
 *
 * Both libraries (@node-rs/bcrypt, @node-rs/argon2; docs/dependencies.md) run
 * the hash on libuv's thread pool, so a 50–300 ms verification does not stall
 * the worker's event loop. They are imported only when a route uses `auth` or
 * the command runs, so other workers never load them.
 */

export type HashKind = 'bcrypt' | 'argon2';

/** bcrypt's cost for new hashes: ~100–150 ms to verify on a small VPS core, ~2–3× that on a Raspberry Pi. */
export const BCRYPT_COST = 11;
/** argon2id with OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
/** @node-rs/argon2's Algorithm.Argon2id (a const enum, which erasable TypeScript cannot import). */
const ARGON2ID = 2;

export function hashKind(hash: string): HashKind | null {
  if (/^\$2[abxy]\$/.test(hash)) return 'bcrypt';
  if (/^\$argon2(id|i|d)\$/.test(hash)) return 'argon2';
  return null;
}

export type Verify = (hash: string, password: string) => Promise<boolean>;

/**
 * Loads what `hashes` need and checks each one parses; returns a verifier.
 * Throws with `describe(index)` in the message for a hash that cannot be used.
 */
export async function loadVerifier(hashes: readonly string[], describe: (index: number) => string): Promise<Verify> {
  const kinds = new Set(hashes.map(hashKind));
  const bcrypt = kinds.has('bcrypt') ? await import('@node-rs/bcrypt') : null;
  const argon2 = kinds.has('argon2') ? await import('@node-rs/argon2') : null;
  hashes.forEach((hash, i) => {
    const kind = hashKind(hash);
    try {
      if (kind === 'bcrypt') checkBcryptShape(hash);
      else if (kind === 'argon2') argon2!.parseOptions(hash);
      else throw new Error('not a bcrypt or argon2 hash');
    } catch (error) {
      throw new Error(`${describe(i)}: the password hash cannot be used (${(error as Error).message}); make a new one with \`kirin hash-password\``);
    }
  });
  return (hash, password) => {
    if (hashKind(hash) === 'bcrypt') return bcrypt!.verify(password, hash);
    return argon2!.verify(hash, password);
  };
}

export async function hashPassword(password: string, kind: HashKind): Promise<string> {
  if (kind === 'bcrypt') {
    const bcrypt = await import('@node-rs/bcrypt');
    // $2y$ and $2b$ name the same algorithm; $2b$ is what OpenBSD, Python and htpasswd write.
    return (await bcrypt.hash(password, BCRYPT_COST)).replace(/^\$2y\$/, '$2b$');
  }
  const argon2 = await import('@node-rs/argon2');
  return argon2.hash(password, { ...ARGON2_OPTIONS, algorithm: ARGON2ID as never });
}

/** $2b$12$ + 22 characters of salt + 31 of hash, in bcrypt's base64 alphabet; the cost between 4 and 31. */
function checkBcryptShape(hash: string): void {
  const match = /^\$2[abxy]\$(\d{2})\$[./A-Za-z0-9]{53}$/.exec(hash);
  if (!match) throw new Error('not a complete bcrypt hash');
  const cost = Number(match[1]);
  if (cost < 4 || cost > 31) throw new Error(`bcrypt cost ${cost} is outside 4..31`);
}
