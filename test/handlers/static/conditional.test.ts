import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePreconditions, ifRangeMatches, matchesTagList, parseHttpDate, type Validators } from '../../../src/handlers/static/conditional.ts';

const modifiedMs = Date.UTC(2024, 0, 15, 12, 0, 0);
const v: Validators = { etag: '"abc"', lastModified: new Date(modifiedMs).toUTCString(), modifiedMs };

describe('parseHttpDate', () => {
  it('reads the three HTTP-date forms', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it('refuses what Date.parse would guess at', () => {
    for (const value of ['1', '9999', 'yesterday', 'Sun, 31 Feb 2024 00:00:00 GMT', 'Sun, 06 Nov 1994 25:00:00 GMT', 'Sun, 06 Nov 1994 08:49:37 UTC', '2024-01-15T12:00:00Z', '']) {
      assert.equal(parseHttpDate(value), null, value);
    }
  });
});

describe('matchesTagList', () => {
  it('matches one tag, a list, and *', () => {
    assert.equal(matchesTagList('"abc"', '"abc"', false), true);
    assert.equal(matchesTagList('"x", "abc"', '"abc"', false), true);
    assert.equal(matchesTagList('*', '"abc"', true), true);
    assert.equal(matchesTagList('"x", "y"', '"abc"', false), false);
  });

  it('compares weakly for If-None-Match and strongly for If-Match', () => {
    assert.equal(matchesTagList('W/"abc"', '"abc"', false), true);
    assert.equal(matchesTagList('W/"abc"', '"abc"', true), false);
  });

  it('does not match garbage', () => {
    for (const list of ['abc', '"abc', 'W/abc', '"ab"c"', ',,,']) assert.equal(matchesTagList(list, '"abc"', false), false, list);
  });
});

describe('evaluatePreconditions', () => {
  it('answers 304 to a matching If-None-Match or a date at or after Last-Modified', () => {
    assert.equal(evaluatePreconditions({ 'if-none-match': '"abc"' }, v), 'not-modified');
    assert.equal(evaluatePreconditions({ 'if-modified-since': v.lastModified }, v), 'not-modified');
    assert.equal(evaluatePreconditions({ 'if-modified-since': new Date(modifiedMs + 60_000).toUTCString() }, v), 'not-modified');
    assert.equal(evaluatePreconditions({ 'if-modified-since': new Date(modifiedMs - 60_000).toUTCString() }, v), 'proceed');
  });

  it('lets If-None-Match win over If-Modified-Since', () => {
    assert.equal(evaluatePreconditions({ 'if-none-match': '"other"', 'if-modified-since': v.lastModified }, v), 'proceed');
  });

  it('ignores a garbage date instead of failing', () => {
    assert.equal(evaluatePreconditions({ 'if-modified-since': 'not a date' }, v), 'proceed');
    assert.equal(evaluatePreconditions({ 'if-unmodified-since': 'garbage' }, v), 'proceed');
  });

  it('fails If-Match and If-Unmodified-Since preconditions with 412', () => {
    assert.equal(evaluatePreconditions({ 'if-match': '"other"' }, v), 'precondition-failed');
    assert.equal(evaluatePreconditions({ 'if-match': '"abc"' }, v), 'proceed');
    assert.equal(evaluatePreconditions({ 'if-unmodified-since': new Date(modifiedMs - 60_000).toUTCString() }, v), 'precondition-failed');
  });
});

describe('ifRangeMatches', () => {
  it('matches the strong tag or the exact date, nothing else', () => {
    assert.equal(ifRangeMatches('"abc"', v), true);
    assert.equal(ifRangeMatches('W/"abc"', v), false);
    assert.equal(ifRangeMatches('"old"', v), false);
    assert.equal(ifRangeMatches(v.lastModified, v), true);
    assert.equal(ifRangeMatches(new Date(modifiedMs - 1000).toUTCString(), v), false);
    assert.equal(ifRangeMatches('garbage', v), false);
  });
});
