/**
 * Reading the credentials the `ddns` section names (`'$NAME'`): from the
 * environment, then the config's env files — the same precedence the app and
 * services get (src/config/load.ts: variables already set win over the files).
 * Read on every start and reload, so a rotated token in the env file applies
 * after `kirin reload`. Values never leave the provider that uses them.
 */
import { readEnvFiles } from '../config/load.ts';
import type { SecretRef } from './plan.ts';

export type SecretReader = (ref: SecretRef) => string;

export class MissingCredentialError extends Error {
  constructor(ref: SecretRef, envFiles: readonly string[]) {
    const where = envFiles.length > 0 ? `the environment or the env files (${envFiles.join(', ')})` : 'the environment (and the config has no envFiles)';
    super(`${ref.at}: the variable ${ref.variable} is not set in ${where}; add ${ref.variable}=… to an env file listed in envFiles`);
    this.name = 'MissingCredentialError';
  }
}

/** A reader over the process environment and the env files; throws MissingCredentialError for an unset or empty variable. */
export function credentialReader(envFiles: readonly string[], base: NodeJS.ProcessEnv = process.env): SecretReader {
  const { env: fromFiles } = readEnvFiles(envFiles, base);
  return (ref) => {
    const value = base[ref.variable] ?? fromFiles[ref.variable];
    if (value === undefined || value === '') throw new MissingCredentialError(ref, envFiles);
    return value;
  };
}
