/** The config's log levels, least severe first: `logLevel` takes one, and a logger prints it and those after it. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
