import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load.ts';
import { tempDir } from '../support/kirin.ts';

/** Writes `source` as a config file in a fresh folder and returns its path. */
function configFile(name: string, source: string): string {
  const file = join(tempDir('kirin-config-load-'), name);
  writeFileSync(file, source);
  return file;
}

async function loadError(file: string): Promise<string> {
  await assert.rejects(loadConfigFile(file), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'KIRIN_ERR_CONFIG_LOAD');
    return true;
  });
  return loadConfigFile(file).then(
    () => '',
    (error: Error) => error.message,
  );
}

describe('loading a config file in a child process', () => {
  it('returns the default export of a TypeScript config, with the environment the master sees', async () => {
    process.env.KIRIN_TEST_CONFIG_PORT = '8123';
    const file = configFile('kirin.config.ts', "const port: string = process.env.KIRIN_TEST_CONFIG_PORT ?? '0';\nexport default { workers: 2, listen: { http: [`127.0.0.1:${port}`] }, since: new Date(0) };\n");
    assert.deepEqual(await loadConfigFile(file), { workers: 2, listen: { http: ['127.0.0.1:8123'] }, since: new Date(0) });
  });

  it('returns the answer even when the config leaves a timer running', async () => {
    const file = configFile('kirin.config.mjs', 'setInterval(() => {}, 1000);\nexport default { workers: 1 };\n');
    assert.deepEqual(await loadConfigFile(file), { workers: 1 });
  });

  it('names the file and the error of a config that throws', async () => {
    const message = await loadError(configFile('kirin.config.ts', "throw new Error('DATABASE_URL is not set');\nexport default {};\n"));
    assert.match(message, /kirin\.config\.ts: failed to load: Error: DATABASE_URL is not set/);
  });

  it('asks for a default export when there is none', async () => {
    const message = await loadError(configFile('kirin.config.mjs', 'export const unrelated = 1;\n'));
    assert.match(message, /has no default export; write `export default defineConfig/);
  });

  it('says a config is not plain data when it holds a function', async () => {
    const message = await loadError(configFile('kirin.config.mjs', 'export default { fetch() {} };\n'));
    assert.match(message, /the config must be plain data/);
  });

  it('reports a config that exits the process instead of answering', async () => {
    const message = await loadError(configFile('kirin.config.mjs', 'process.exit(3);\n'));
    assert.match(message, /the process evaluating it exited \(code 3\) without an answer/);
  });
});
