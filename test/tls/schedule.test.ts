import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameCovers, renewalTime } from '../../src/tls/cert-info.ts';
import { challengeOrder, MAX_RETRY_DELAY_MS, renewAt, retryDelay, scheduleSettingsFromEnv } from '../../src/tls/schedule.ts';

const DAY = 86_400_000;

describe('renewal and retry schedule', () => {
  it('renews when a third of the lifetime is left (day 60 of a 90-day certificate)', () => {
    assert.equal(renewalTime(0, 90 * DAY), 60 * DAY);
    assert.equal(renewAt({ notBefore: 0, notAfter: 90 * DAY, issuedAt: 5 }, scheduleSettingsFromEnv({})), 60 * DAY);
  });

  it('doubles the retry delay from one minute and stops at a day', () => {
    const settings = scheduleSettingsFromEnv({});
    assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n, settings)), [60_000, 120_000, 240_000, 480_000]);
    assert.equal(retryDelay(30, settings), MAX_RETRY_DELAY_MS);
    assert.equal(MAX_RETRY_DELAY_MS, DAY);
  });

  it('takes its test hooks from the environment, and ignores nonsense there', () => {
    const hooked = scheduleSettingsFromEnv({ KIRIN_TEST_ACME_RETRY_MS: '300', KIRIN_TEST_RENEW_AFTER_MS: '1500' });
    assert.equal(retryDelay(3, hooked), 1200);
    assert.equal(renewAt({ notBefore: 0, notAfter: 90 * DAY, issuedAt: 1000 }, hooked), 2500);
    const junk = scheduleSettingsFromEnv({ KIRIN_TEST_ACME_RETRY_MS: 'soon', KIRIN_TEST_RENEW_AFTER_MS: '-1' });
    assert.equal(retryDelay(1, junk), 60_000);
    assert.equal(junk.renewAfterMs, null);
  });

  it('prefers HTTP-01 when there is a plain HTTP listener and alternates after failures; TLS-ALPN-01 alone without one', () => {
    assert.deepEqual(challengeOrder(true, 0), ['http-01', 'tls-alpn-01']);
    assert.deepEqual(challengeOrder(true, 1), ['tls-alpn-01', 'http-01']);
    assert.deepEqual(challengeOrder(true, 2), ['http-01', 'tls-alpn-01']);
    assert.deepEqual(challengeOrder(false, 0), ['tls-alpn-01']);
    assert.deepEqual(challengeOrder(false, 1), ['tls-alpn-01']);
  });

  it('matches wildcard names one label deep only', () => {
    assert.equal(nameCovers('*.example.com', 'www.example.com'), true);
    assert.equal(nameCovers('*.example.com', 'example.com'), false);
    assert.equal(nameCovers('*.example.com', 'a.b.example.com'), false);
    assert.equal(nameCovers('example.com', 'example.com'), true);
  });
});
