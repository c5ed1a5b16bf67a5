/**
 * Finding and evaluating the config file.
 *
 * A JS/TS config is evaluated in a short-lived child process: every load gets
 * a fresh module graph (a reload sees the edited file and whatever it imports),
 * a config that throws or hangs cannot take the master down, and what loading
 * it cost (a .ts config loads Node's type stripper) leaves with the child. The
 * result must be plain data (it is structured-cloned back).
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { spawn } from 'node:child_process';
import { KirinError } from '../errors.ts';
import { keyAndFlag } from './serve-flags.ts';

export const CONFIG_NAMES = ['kirin.config.ts', 'kirin.config.mts', 'kirin.config.js', 'kirin.config.mjs', 'kirin.config.json'] as const;

export function findConfigFile(cwd: string): string | null {
  for (const name of CONFIG_NAMES) {
    const candidate = resolve(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

const LOAD_TIMEOUT_MS = 30_000;
const CHILD_LINGER_MS = 1000;

/** Returns the config file's default export (or its JSON). */
export async function loadConfigFile(file: string, signal?: AbortSignal): Promise<unknown> {
  if (!existsSync(file)) throw new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: no such config file`);
  if (extname(file) === '.json') {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: not valid JSON: ${(error as Error).message}`);
    }
  }
  return evaluateInChild(file, signal);
}

/**
 * The evaluator, run by a child Node process: imports the config and sends its
 * default export back over IPC (structured clone, so Maps and Dates survive
 * as they did through a worker thread), then lets go of the channel so the
 * process can end.
 */
const EVALUATOR = `
  const { pathToFileURL } = require('node:url');
  const send = (message) => process.send(message, () => process.disconnect());
  import(pathToFileURL(process.argv[1]).href).then(
    (ns) => {
      const value = ns.default !== undefined ? ns.default : ns.config;
      try { send({ ok: true, value }); }
      catch (e) { send({ ok: false, message: 'the config must be plain data (strings, numbers, objects, arrays); ' + e.message }); }
    },
    (e) => send({ ok: false, message: (e && e.stack) || String(e) }),
  );`;

/**
 * Evaluates a JS/TS config in a short-lived child process, not in the master:
 * a .ts config needs Node's type stripper (a WebAssembly module, ~18 MB), and
 * the memory of a thread stays with the process that ran it; a child's goes
 * back to the system when it exits. `signal` abandons the evaluation (the
 * master stopped during a reload): the child is killed at once.
 */
function evaluateInChild(file: string, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['-e', EVALUATOR, file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() => reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: did not finish loading within ${LOAD_TIMEOUT_MS / 1000} s`)));
    }, LOAD_TIMEOUT_MS);
    signal?.addEventListener('abort', () => {
      child.kill('SIGKILL');
      settle(() => reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: loading was abandoned`)));
    }, { once: true });
    child.once('message', (message: { ok: boolean; value?: unknown; message?: string }) => {
      // A config that leaves a timer or a socket open would keep its process alive: a moment to flush its output, then it goes.
      const linger = setTimeout(() => child.kill('SIGKILL'), CHILD_LINGER_MS);
      child.once('exit', () => clearTimeout(linger));
      settle(() => {
        if (message.ok) {
          if (message.value === undefined) reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: has no default export; write \`export default defineConfig({ … })\``));
          else resolvePromise(message.value);
        } else reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: failed to load: ${message.message}`));
      });
    });
    child.once('error', (error) => settle(() => reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: failed to load: could not start Node (${error.message})`))));
    // A config that calls process.exit() or is killed never answers.
    child.once('exit', (code, exitSignal) => settle(() => reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: failed to load: the process evaluating it exited (${exitSignal ?? `code ${code}`}) without an answer`))));
  });
}

/**
 * Reads env files in order. Later files win over earlier ones; variables
 * already in `base` (the real environment) win over all of them.
 */
export function readEnvFiles(files: readonly string[], base: NodeJS.ProcessEnv): { env: Record<string, string>; fromFiles: Record<string, string> } {
  const fromFiles: Record<string, string> = {};
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? (error as Error).message);
      throw new KirinError('KIRIN_ERR_CONFIG_LOAD', `${keyAndFlag('envFiles')}: cannot read ${file}: ${reason}`);
    }
    Object.assign(fromFiles, parseEnvText(text));
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(fromFiles)) if (base[key] === undefined) env[key] = value;
  return { env, fromFiles };
}

export function parseEnvText(text: string): Record<string, string> {
  return parseEnv(text) as Record<string, string>;
}
