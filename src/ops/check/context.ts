/**
 * What every check family reads: the plan (as `kirin serve` would build it),
 * the raw config, the environment the server starts with, the env files and
 * the machine's facts.
 */
import type { ServePlan } from '../../config/plan.ts';
import type { CommandRunner } from '../command-runner.ts';
import type { HostFacts } from './host-facts.ts';

export interface EnvFileFacts {
  path: string;
  /** Its variables, or null when it cannot be read. */
  vars: Record<string, string> | null;
  /** Whether the config loads it (false: found next to the config, e.g. .env.production). */
  loaded: boolean;
}

export interface AuditContext {
  /** Null when the config has errors (K001): the checks that need it are skipped. */
  plan: ServePlan | null;
  /** The config as the file exports it, or null when it could not be loaded. */
  raw: Record<string, unknown> | null;
  configFile: string | null;
  baseDir: string;
  deploy: boolean;
  /** The environment the server starts with, before env files: its unit's, or this shell's. */
  baseEnv: Record<string, string | undefined>;
  /** Where baseEnv comes from, for messages: 'the environment' or the unit's path. */
  envSource: string;
  /** The env files the config loads, and the other `.env*` files beside it. */
  envFiles: EnvFileFacts[];
  /** What the app sees: baseEnv over the loaded env files. */
  env: Record<string, string | undefined>;
  host: HostFacts;
  run: CommandRunner;
  /** Things that could not be checked, said once at the end of the report. */
  notes: string[];
}
