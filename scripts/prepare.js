/**
 * npm's `prepare`: builds dist/ wherever Kirin is installed from source — this
 * checkout (`npm install`, `npm ci`), `npm pack`, `npm install github:…` (npm
 * installs the devDependencies of a git dependency before it runs this) or a
 * linked folder. A package from a tarball or the registry already holds dist/
 * and has no TypeScript: nothing to do there.
 *
 * Plain JavaScript for any Node that npm runs, so it works before the
 * project's own Node 24 (a devDependency) is installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

let tsc = null;
try {
  tsc = join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
} catch {
  // Installed without devDependencies.
}

if (tsc === null) {
  if (existsSync(join(root, 'dist', 'cli', 'bin.js'))) process.exit(0);
  process.stderr.write('kirin: cannot build dist/: TypeScript is not installed here; run `npm install` (with devDependencies) in the Kirin checkout\n');
  process.exit(1);
}
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
