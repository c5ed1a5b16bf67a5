import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http.ts';
import { startKirin, tempDir, writeFiles, type KirinProcess } from '../support/kirin.ts';

describe('kirin serve app.ts (smoke)', () => {
  let kirin: KirinProcess;
  before(async () => {
    const dir = tempDir();
    writeFiles(dir, { 'app.ts': `export default { fetch(request: Request) { return new Response('hello ' + new URL(request.url).pathname); } };\n` });
    kirin = await startKirin({ cwd: dir, args: ['serve', 'app.ts', '--workers', '1', '--bind', '127.0.0.1:0', '--state-dir', `${dir}/state`] });
  });
  after(() => kirin?.stop());

  it('answers a fetch handler over loopback', async () => {
    const res = await request(`${kirin.url}/world`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hello /world');
  });
});
