/**
 * Random secrets for SECRET_KEY, session keys and the admin token: from the
 * OS CSPRNG, in an alphabet that needs no quoting in a URL, an env file or a
 * shell (RFC 4648's base64url letters).
 */
import { randomBytes } from 'node:crypto';
import { MIN_SECRET_LENGTH } from './check/secrets.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export const DEFAULT_SECRET_LENGTH = 64;
export const MAX_SECRET_LENGTH = 4096;
export { MIN_SECRET_LENGTH };

/** `length` characters, 6 random bits each (64 letters divide 256, so no letter is favoured). */
export function generateSecret(length = DEFAULT_SECRET_LENGTH): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 63];
  return out;
}
