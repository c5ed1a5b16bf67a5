/**
 * An app with `import` that Node runs as CommonJS — the package.json `npm init`
 * writes says "type": "commonjs" — is named with the file that decided and
 * the fix. Each error is the real one, from importing the file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { moduleFormatHint } from '../../../src/handlers/app/module-format.ts';
import { tempDir, writeFiles } from '../../support/kirin.ts';

const ESM_APP = "import { STATUS_CODES } from 'node:http';\nexport default { fetch: () => new Response(STATUS_CODES[200]) };\n";

async function importError(file: string): Promise<unknown> {
  try {
    await import(pathToFileURL(file).href);
  } catch (error) {
    return error;
  }
  assert.fail(`${file} loaded`);
}

describe('moduleFormatHint', () => {
  it('names the package.json that says "type": "commonjs" and the two fixes', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'package.json': '{ "name": "app", "type": "commonjs" }\n', 'src/app.ts': ESM_APP });
    const app = join(dir, 'src', 'app.ts');
    assert.equal(
      moduleFormatHint(app, await importError(app)),
      `${join(dir, 'package.json')} says "type": "commonjs" (npm init writes that), so Node runs app.ts as CommonJS: set "type": "module" there, or name the file .mjs (or .mts)`,
    );
  });

  it('names the extension of a .cjs file', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'app.cjs': ESM_APP });
    const app = join(dir, 'app.cjs');
    assert.equal(moduleFormatHint(app, await importError(app)), 'app.cjs is CommonJS by its extension: name it .mjs (or .mts) to use import and export');
  });

  it('says nothing about other errors, or where package.json does not decide', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'package.json': '{ "name": "app" }\n', 'broken.mjs': 'export default {\n' });
    const broken = join(dir, 'broken.mjs');
    assert.equal(moduleFormatHint(broken, await importError(broken)), null);
    assert.equal(moduleFormatHint(join(dir, 'app.ts'), new SyntaxError('Cannot use import statement outside a module')), null, 'no "type": Node decides by the syntax');
  });
});
