/**
 * The `kirin serve` flags that set a config key, in one table: a problem with a
 * value that came from a flag names the flag (the config file does not hold
 * it), and advice about a setting names both, as in "stateDir (--state-dir)".
 */
export const FLAG_FOR_KEY = {
  workers: '--workers',
  listen: '--bind',
  timeout: '--timeout',
  gracefulTimeout: '--graceful-timeout',
  sticky: '--sticky',
  maxRequests: '--max-requests',
  maxRequestsJitter: '--max-requests-jitter',
  maxMemory: '--max-memory',
  accessLog: '--access-log',
  logLevel: '--log-level',
  pidFile: '--pid',
  stateDir: '--state-dir',
  envFiles: '--env-file',
  trustedProxies: '--trusted-proxy',
  admin: '--admin',
  'limits.headerTimeout': '--header-timeout',
  'limits.requestTimeout': '--request-timeout',
  'limits.keepAliveTimeout': '--keep-alive-timeout',
  'limits.maxBody': '--max-body',
} as const;

export type FlagKey = keyof typeof FLAG_FOR_KEY;

/** "stateDir (--state-dir)": for messages about a setting that the file or a flag can set. */
export function keyAndFlag(key: FlagKey): string {
  return `${key} (${FLAG_FOR_KEY[key]})`;
}

/**
 * Given the overrides the flags produced (in config shape), returns which flag
 * set the value at a key path such as 'listen.http[0]' or 'limits.maxBody'.
 */
export function flagSetting(overrides: Record<string, unknown>): (path: string) => string | undefined {
  const keys: FlagKey[] = [];
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (key === 'limits' && value !== null && typeof value === 'object') {
      for (const limit of Object.keys(value)) if (`limits.${limit}` in FLAG_FOR_KEY) keys.push(`limits.${limit}` as FlagKey);
    } else if (key in FLAG_FOR_KEY) keys.push(key as FlagKey);
  }
  return (path) => {
    const key = keys.find((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`));
    return key === undefined ? undefined : FLAG_FOR_KEY[key];
  };
}
