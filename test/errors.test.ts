import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES, KirinError } from '../src/errors.ts';

describe('the error catalog', () => {
  const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

  it('documents every error code', () => {
    for (const code of ERROR_CODES) assert.match(docs, new RegExp(`\`${code}\``), `${code} is missing from docs/errors.md`);
  });

  it('KirinError carries name, code, message, detail and exit code', () => {
    const error = new KirinError('KIRIN_ERR_LISTEN', 'cannot listen', { detail: 'stack', exitCode: 3 });
    assert.equal(error.name, 'KirinError');
    assert.equal(error.code, 'KIRIN_ERR_LISTEN');
    assert.equal(error.message, 'cannot listen');
    assert.equal(error.detail, 'stack');
    assert.equal(error.exitCode, 3);
    assert.ok(error instanceof Error);
  });
});
