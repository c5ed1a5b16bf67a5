import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureKind, failurePage, isTargetFailure, nothingSent } from '../../../src/handlers/proxy/upstream-failure.ts';

const error = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('upstream failures', () => {
  it('tells a failed connect (nothing sent) from a reset after sending', () => {
    for (const code of ['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']) assert.ok(nothingSent(failureKind(error(code))), code);
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT']) assert.ok(!nothingSent(failureKind(error(code))), code);
  });

  it('answers 502 for connect and protocol failures, 504 for timeouts', () => {
    assert.equal(failurePage(failureKind(error('ECONNREFUSED')))[0], 502);
    assert.equal(failurePage(failureKind(error('UND_ERR_CONNECT_TIMEOUT')))[0], 504);
    assert.equal(failurePage(failureKind(error('UND_ERR_HEADERS_TIMEOUT')))[0], 504);
    assert.equal(failurePage(failureKind(error('UND_ERR_SOCKET', 'bad upgrade')))[0], 502);
    assert.match(failurePage(failureKind(error('UND_ERR_SOCKET', 'bad upgrade')))[1], /switched protocols/);
    assert.equal(failurePage(failureKind(new Error('no code')))[0], 502);
  });

  it('counts connect failures, timeouts and resets against a target, not a request Kirin could not send', () => {
    assert.ok(isTargetFailure(failureKind(error('ECONNREFUSED'))));
    assert.ok(isTargetFailure(failureKind(error('UND_ERR_HEADERS_TIMEOUT'))));
    assert.ok(!isTargetFailure(failureKind(error('UND_ERR_INVALID_ARG'))));
    assert.ok(!isTargetFailure(failureKind(error('UND_ERR_SOCKET', 'bad upgrade'))));
  });
});
