/**
 * Finding and evaluating the config file.
 *
 * A JS/TS config is evaluated in a worker thread: every load gets a fresh
 * module graph (a reload sees the edited file and whatever it imports), and a
 * config that throws or hangs cannot take the master down. The result must be
 * plain data (it is structured-cloned back).
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { Worker } from 'node:worker_threads';
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
  return evaluateInThread(file, signal);
}

/** `signal` abandons the evaluation (the master stopped during a reload): the thread is terminated at once. */
function evaluateInThread(file: string, signal?: AbortSignal): Promise<unknown> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { pathToFileURL } = require('node:url');
    import(pathToFileURL(workerData).href).then(
      (ns) => {
        const value = ns.default !== undefined ? ns.default : ns.config;
        try { parentPort.postMessage({ ok: true, value }); }
        catch (e) { parentPort.postMessage({ ok: false, message: 'the config must be plain data (strings, numbers, objects, arrays); ' + e.message }); }
      },
      (e) => parentPort.postMessage({ ok: false, message: (e && e.stack) || String(e) }),
    );`;
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(source, { eval: true, workerData: file, stdout: false, stderr: false });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: did not finish loading within ${LOAD_TIMEOUT_MS / 1000} s`));
    }, LOAD_TIMEOUT_MS);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      void worker.terminate();
      reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: loading was abandoned`));
    }, { once: true });
    worker.once('message', (message: { ok: boolean; value?: unknown; message?: string }) => {
      clearTimeout(timer);
      void worker.terminate();
      if (message.ok) {
        if (message.value === undefined) reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: has no default export; write \`export default defineConfig({ … })\``));
        else resolvePromise(message.value);
      } else reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: failed to load: ${message.message}`));
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(new KirinError('KIRIN_ERR_CONFIG_LOAD', `${file}: failed to load: ${error.stack ?? error.message}`));
    });
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
