/**
 * The app the deploy tests ship: a project folder on "the laptop" with a
 * package.json that depends on this checkout of Kirin (an `npm pack` tarball
 * in vendor/, so it travels with the release), its lockfile, a fetch handler
 * and kirin.config.json with a deploy section pointing at the test host.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from '../../support/kirin.ts';

let packed: string | null = null;

/** `npm pack` of this checkout (built dist/ included), once per test process. */
export function kirinTarball(): string {
  if (packed) return packed;
  const out = mkdtempSync(join(tmpdir(), 'kd-pack-'));
  const name = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', out], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` } }).trim().split('\n').pop()!;
  packed = join(out, name);
  return packed;
}

/**
 * The lockfile npm would write for the app: Kirin from the tarball, and
 * Kirin's own runtime dependencies exactly as this checkout's lockfile pins
 * them (every platform's optional binaries listed, so `npm ci` accepts it).
 */
export function appLockfile(name: string, tarballRef: string, extra: Record<string, string> = {}): string {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const kirin = lock.packages['']!;
  const packages: Record<string, unknown> = {
    '': { name, version: '1.0.0', dependencies: { kirin: tarballRef, ...extra } },
    'node_modules/kirin': { version: kirin.version, resolved: tarballRef, license: kirin.license, dependencies: kirin.dependencies, bin: kirin.bin, engines: kirin.engines },
  };
  // Extra dependencies come from this checkout's lockfile too (dev ones included), with their own dependencies' entries.
  const extraKeys = Object.keys(extra).flatMap((dep) => [`node_modules/${dep}`, ...Object.keys(lock.packages).filter((k) => k.startsWith(`node_modules/${dep.split('/')[0]}/`) || (dep === 'typescript' && k.startsWith('node_modules/@typescript/')))]);
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key || (entry.dev && !extraKeys.includes(key))) continue;
    const copy = { ...entry };
    delete copy.devOptional;
    delete copy.dev;
    packages[key] = copy;
  }
  return `${JSON.stringify({ name, version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`;
}

export interface TestApp {
  dir: string;
  /** Rewrites kirin.config.json's deploy section (merged over the current one). */
  setDeploy(deploy: Record<string, unknown>): void;
  write(path: string, content: string | Buffer): void;
}

export const APP_SOURCE = (version: string) => `export default {
  fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === '/env') return new Response(process.env.SECRET_KEY ? 'secret is set' : 'no secret');
    if (path === '/cwd') return new Response(process.cwd());
    return new Response(${JSON.stringify(version)});
  },
};
`;

export function createApp(options: { deploy: Record<string, unknown>; name?: string; version?: string; extraConfig?: Record<string, unknown>; dependencies?: Record<string, string> }): TestApp {
  const dir = mkdtempSync(join(tmpdir(), 'kd-app-'));
  const name = options.name ?? 'kd-app';
  const tarball = kirinTarball();
  const tarballRef = `file:vendor/${tarball.split('/').pop()}`;
  const write = (path: string, content: string | Buffer) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  };
  write(`vendor/${tarball.split('/').pop()}`, readFileSync(tarball));
  write('package.json', `${JSON.stringify({ name, version: '1.0.0', private: true, type: 'module', dependencies: { kirin: tarballRef, ...options.dependencies } }, null, 2)}\n`);
  write('package-lock.json', appLockfile(name, tarballRef, options.dependencies));
  write('app.js', APP_SOURCE(options.version ?? 'v1'));
  write('public/style.css', 'body { color: #333 }\n');
  let config: Record<string, unknown> = {
    workers: 2,
    listen: { http: ['0.0.0.0:8000'] },
    gracefulTimeout: 5,
    sites: { '*': { '/static/': { static: './public' }, '/': { app: './app.js' } } },
    ...options.extraConfig,
    deploy: options.deploy,
  };
  const save = () => write('kirin.config.json', `${JSON.stringify(config, null, 2)}\n`);
  save();
  return {
    dir,
    write,
    setDeploy(deploy) {
      config = { ...config, deploy: { ...(config.deploy as object), ...deploy } };
      save();
    },
  };
}

let npmCache: string | null = null;

/**
 * An npm cache holding the app's dependencies, filled here once per test
 * process. The test host has no route to the registry, so the tests give
 * its user this cache (as a server that deployed before has); `npm ci
 * --prefer-offline` on the host then installs from it.
 */
export function appNpmCache(): string {
  npmCache ??= npmCacheFor(createApp({ deploy: { hosts: ['nobody@localhost'] } }).dir);
  return npmCache;
}

/** An npm cache filled by installing this app's lockfile here. */
export function npmCacheFor(appDir: string): string {
  const work = mkdtempSync(join(tmpdir(), 'kd-npm-'));
  for (const file of ['package.json', 'package-lock.json']) writeFileSync(join(work, file), readFileSync(join(appDir, file)));
  mkdirSync(join(work, 'vendor'));
  const tarball = kirinTarball();
  writeFileSync(join(work, 'vendor', tarball.split('/').pop()!), readFileSync(tarball));
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', join(work, 'cache')], { cwd: work, stdio: 'ignore', env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` } });
  return join(work, 'cache');
}
