/** Session ids that name their worker, and reading the owner back from a request target (src/worker/sticky/session-id.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foreignOwner, newSessionId } from '../../src/worker/sticky/session-id.ts';

describe('sticky session ids', () => {
  it('a new id is this process pid in base 36, a dot, and 20 URL-safe random characters', () => {
    const id = newSessionId();
    assert.match(id, /^[0-9a-z]+\.[A-Za-z0-9_-]{20}$/);
    assert.equal(Number.parseInt(id.split('.')[0]!, 36), process.pid);
    assert.notEqual(newSessionId(), id);
  });

  it("names another worker's pid, and 0 for this process, no sid, or a parameter that only ends in sid", () => {
    const other = process.pid + 1;
    const sid = `${other.toString(36)}.AbCdEfGhIjKlMnOpQrSt`;
    assert.equal(foreignOwner(`/socket.io/?EIO=4&transport=polling&sid=${sid}`), other);
    assert.equal(foreignOwner(`/socket.io/?sid=${sid}&EIO=4`), other);
    assert.equal(foreignOwner(`/socket.io/?EIO=4&transport=polling&sid=${newSessionId()}`), 0);
    assert.equal(foreignOwner('/socket.io/?EIO=4&transport=polling'), 0);
    assert.equal(foreignOwner(`/x?mysid=${sid}`), 0);
    // engine.io's own ids (no dot) and ids whose prefix is not a pid name no worker.
    assert.equal(foreignOwner('/socket.io/?EIO=4&sid=pW7rk64TvNkLsaDHAAAB'), 0);
    assert.equal(foreignOwner('/socket.io/?EIO=4&sid=0.AbCdEfGhIjKlMnOpQrSt'), 0);
    assert.equal(foreignOwner('/socket.io/?sid=ab&x=1.5'), 0);
  });
});
