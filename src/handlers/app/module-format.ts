/**
 * Why an app written with `import`/`export` fails as "Cannot use import
 * statement outside a module": Node runs it as CommonJS, because its nearest
 * package.json says `"type": "commonjs"` — which `npm init` writes since npm
 * 11 — or its extension is .cjs/.cts. Node's own warning names neither the
 * file that decided nor the fix.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { findPackageRoot } from '../../util/package-root.ts';

const ESM_IN_COMMONJS = /Cannot use import statement outside a module|Unexpected token 'export'/;

/** A sentence naming the fix, or null when `error` is not ES module syntax run as CommonJS. */
export function moduleFormatHint(modulePath: string, error: unknown): string | null {
  if (!(error instanceof SyntaxError) || !ESM_IN_COMMONJS.test(error.message)) return null;
  const file = basename(modulePath);
  if (/\.c[jt]s$/.test(file)) return `${file} is CommonJS by its extension: name it .mjs (or .mts) to use import and export`;
  const root = findPackageRoot(dirname(modulePath));
  if (root === null) return null;
  const packageJson = join(root, 'package.json');
  let type: unknown;
  try {
    type = (JSON.parse(readFileSync(packageJson, 'utf8')) as { type?: unknown }).type;
  } catch {
    return null;
  }
  if (type !== 'commonjs') return null;
  return `${packageJson} says "type": "commonjs" (npm init writes that), so Node runs ${file} as CommonJS: set "type": "module" there, or name the file .mjs (or .mts)`;
}
