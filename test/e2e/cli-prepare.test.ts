/**
 * npm's `prepare` script (scripts/prepare.js), run as npm runs it in the three
 * places Kirin is installed from: a checkout with its devDependencies (it
 * builds dist/), an installed package (dist/ is there, TypeScript is not:
 * nothing to do), and a checkout without devDependencies (a clear error).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tempDir, writeFiles } from '../support/kirin.ts';

const PREPARE = join(ROOT, 'scripts', 'prepare.js');

async function prepare(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(dir, 'scripts', 'prepare.js')], { cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A folder laid out like the Kirin package: package.json and the prepare script, plus `files`. */
function packageFolder(files: Record<string, string> = {}): string {
  const dir = tempDir('ke-prepare-');
  mkdirSync(join(dir, 'scripts'));
  cpSync(PREPARE, join(dir, 'scripts', 'prepare.js'));
  writeFiles(dir, { 'package.json': readFileSync(join(ROOT, 'package.json'), 'utf8'), ...files });
  return dir;
}

describe('the prepare script', () => {
  it('package.json runs it as npm\'s prepare', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[] };
    assert.equal(pkg.scripts.prepare, 'node scripts/prepare.js');
    assert.ok(pkg.files.includes('dist'));
  });

  it('in an installed package (dist/ there, no TypeScript) it does nothing', async () => {
    const dir = packageFolder({ 'dist/cli/bin.js': '// built\n' });
    const run = await prepare(dir);
    assert.deepEqual(run, { code: 0, stdout: '', stderr: '' });
    assert.equal(readFileSync(join(dir, 'dist/cli/bin.js'), 'utf8'), '// built\n');
  });

  it('in a checkout without devDependencies it says what to run', async () => {
    const run = await prepare(packageFolder());
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'kirin: cannot build dist/: TypeScript is not installed here; run `npm install` (with devDependencies) in the Kirin checkout\n');
  });

  it('in a checkout with devDependencies it builds dist/', async () => {
    const dir = packageFolder();
    for (const file of ['tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, file), join(dir, file));
    cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const run = await prepare(dir);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(join(dir, 'dist/cli/bin.js')));
    assert.ok(existsSync(join(dir, 'dist/index.d.ts')));
  });
});
