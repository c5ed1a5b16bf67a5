/**
 * Where things are: the checkout, the Node 24 that runs every Node server in
 * a bench (the devDependency, never the system's Node 20), the built Kirin.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH_DIR = join(ROOT, 'bench');
export const APPS_DIR = join(BENCH_DIR, 'apps');
/** Node 24 from node_modules: the same binary for Kirin, raw node:http, Hono and PM2. */
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const KIRIN_BIN = join(ROOT, 'dist', 'cli', 'bin.js');

/** An executable from node_modules/.bin. */
export function npmBin(name: string): string {
  return join(ROOT, 'node_modules', '.bin', name);
}

/** A bench app by file name: bench/apps/NAME. */
export function app(name: string): string {
  return join(APPS_DIR, name);
}
