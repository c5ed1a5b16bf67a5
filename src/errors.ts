/**
 * One error base class with stable codes, prefixed by subsystem (undici's
 * UND_ERR_*, Fastify's FST_ERR_*). Every code is listed in docs/errors.md.
 */
export const ERROR_CODES = [
  'KIRIN_ERR_CONFIG',
  'KIRIN_ERR_CONFIG_LOAD',
  'KIRIN_ERR_USAGE',
  'KIRIN_ERR_NODE_VERSION',
  'KIRIN_ERR_LISTEN',
  'KIRIN_ERR_APP_LOAD',
  'KIRIN_ERR_APP_EXPORT',
  'KIRIN_ERR_BOOT',
  'KIRIN_ERR_CONTROL',
  'KIRIN_ERR_NOT_RUNNING',
  'KIRIN_ERR_SERVICE',
  'KIRIN_ERR_TLS',
  'KIRIN_ERR_DEPLOY',
  'KIRIN_ERR_INTERNAL',
] as const;

export type KirinErrorCode = (typeof ERROR_CODES)[number];

export interface KirinErrorOptions extends ErrorOptions {
  /** More to show below the message (a worker's stack trace). */
  detail?: string;
  /** The exit code the CLI should end with. */
  exitCode?: number;
}

export class KirinError extends Error {
  readonly code: KirinErrorCode;
  readonly detail: string | undefined;
  readonly exitCode: number | undefined;
  constructor(code: KirinErrorCode, message: string, options?: KirinErrorOptions) {
    super(message, options);
    this.name = 'KirinError';
    this.code = code;
    this.detail = options?.detail;
    this.exitCode = options?.exitCode;
  }
}

/** Process exit codes, named so a boot failure halts instead of looping (Gunicorn's WORKER_BOOT_ERROR). */
export const ExitCode = {
  OK: 0,
  /** Something failed at run time. */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 2,
  /** A worker could not start (listen failed, bad plan). */
  WORKER_BOOT_ERROR: 3,
  /** The user's app threw while being imported or exported nothing usable. */
  APP_LOAD_ERROR: 4,
  /** The master's loop hit an error it does not expect (a bug in Kirin): workers and services were stopped. sysexits' EX_SOFTWARE. */
  INTERNAL_ERROR: 70,
} as const;
