#!/usr/bin/env node
/**
 * The `kirin` command. Kept tiny so that an old Node reaches the version check
 * and prints one clear line instead of a stack trace.
 */
import { MASTER_V8_FLAGS, MINIMUM_NODE, nodeFlagsForTypeScript, nodeIsSupported, runsMaster } from '../runtime.ts';

if (!nodeIsSupported()) {
  process.stderr.write(`kirin: Node.js ${MINIMUM_NODE.join('.')} or newer is required; this is ${process.version}. Install a current Node (https://nodejs.org) and try again.\n`);
  process.exit(1);
}

// Importing .ts files (apps, kirin.config.ts) needs type stripping; before Node 22.18 it is behind a flag.
// The master runs with MASTER_V8_FLAGS. Either missing: restart with them.
const typeScriptFlags = nodeFlagsForTypeScript();
const needsTypeScriptFlags = typeScriptFlags.length > 0 && !process.execArgv.includes(typeScriptFlags[0]!) && !(process.features as { typescript?: unknown }).typescript;
const masterFlags = runsMaster(process.argv.slice(2)) ? MASTER_V8_FLAGS.filter((flag) => !process.execArgv.includes(flag)) : [];
// Node marks inherited descriptors close-on-exec at start-up, so an exec would close systemd's
// sockets (LISTEN_FDS): with them, the type-stripping flag takes the child process below and
// the master goes without its flags (`kirin install` writes them into ExecStart instead).
const execve = process.env.LISTEN_FDS ? undefined : (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
if (needsTypeScriptFlags || (masterFlags.length > 0 && execve)) {
  const args = [...(needsTypeScriptFlags ? typeScriptFlags : []), ...masterFlags, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)];
  // Same PID (signals and systemd's LISTEN_PID keep working) where Node can exec.
  if (execve) execve(process.execPath, [process.execPath, ...args], process.env);
  // Only for the type-stripping flag (Node < 23.11): a second process for the master's flags would cost more than they save.
  const [{ spawn }, os] = await Promise.all([import('node:child_process'), import('node:os')]);
  const inherited = Array.from({ length: Math.max(0, Number(process.env.LISTEN_FDS) || 0) }, (_, i) => 3 + i);
  const child = spawn(process.execPath, args, { stdio: ['inherit', 'inherit', 'inherit', ...inherited], env: { ...process.env, ...(process.env.LISTEN_PID === String(process.pid) ? { KIRIN_LISTEN_PID_PARENT: '1' } : {}) },
  });
  for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  // A child killed by a signal: the shell's 128 + its number, as if this process had been.
  const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 + (os.constants.signals[s] ?? 0) : 1))));
  process.exit(code);
}

const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
