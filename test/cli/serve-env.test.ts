/**
 * The environment `kirin serve` gives the app: NODE_ENV=production unless the
 * user set NODE_ENV, in the shell or in an env file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPlan } from '../../src/cli/serve.ts';
import { tempDir, writeFiles } from '../support/kirin.ts';

async function workerEnv(shell: NodeJS.ProcessEnv, files: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const dir = tempDir();
  writeFiles(dir, { 'app.ts': 'export default { fetch: () => new Response("hi") };\n', ...files });
  const configFile = files['kirin.config.json'] === undefined ? null : join(dir, 'kirin.config.json');
  const { env } = await buildPlan({ app: configFile === null ? join(dir, 'app.ts') : undefined, configFile, overrides: {} }, dir, shell, null);
  return env;
}

describe('kirin serve: NODE_ENV', () => {
  it('is production when the user did not set it', async () => {
    assert.equal((await workerEnv({ PATH: '/usr/bin' })).NODE_ENV, 'production');
  });

  it('stays what the shell set', async () => {
    assert.equal((await workerEnv({ NODE_ENV: 'staging' })).NODE_ENV, 'staging');
  });

  it('stays what an env file set', async () => {
    const env = await workerEnv({}, { '.env.site': 'NODE_ENV=development\n', 'kirin.config.json': JSON.stringify({ envFiles: ['./.env.site'], sites: { '*': { '/': { app: './app.ts' } } } }) });
    assert.equal(env.NODE_ENV, 'development');
  });
});
