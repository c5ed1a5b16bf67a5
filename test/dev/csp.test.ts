/**
 * The reload script's way through a page's Content-Security-Policy: its hash
 * where inline scripts are governed, 'self' where connections are, and no
 * other source loosened; in a header or in the page's own meta tag.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowReloadScript } from '../../src/dev/csp.ts';
import { rewriteMetaPolicies } from '../../src/dev/meta-csp.ts';

const HASH = "'sha256-abc='";

describe('allowReloadScript', () => {
  const cases: [string, string, string][] = [
    ['a policy that governs neither scripts nor connections', "img-src 'self'", "img-src 'self'"],
    ["default-src only: script-src and connect-src made from its sources", "default-src 'none'", `default-src 'none'; script-src ${HASH}; connect-src 'self'`],
    ['default-src with a host keeps the host in the new directives', 'default-src https://cdn.test', `default-src https://cdn.test; script-src https://cdn.test ${HASH}; connect-src https://cdn.test 'self'`],
    ['a nonce-based script-src gets the hash beside the nonce', "script-src 'nonce-n1' 'strict-dynamic'; connect-src 'self'", `script-src 'nonce-n1' 'strict-dynamic' ${HASH}; connect-src 'self'`],
    ["'unsafe-inline' alone already lets it run", "script-src 'self' 'unsafe-inline'", "script-src 'self' 'unsafe-inline'"],
    ["'unsafe-inline' beside a hash does not count", "script-src 'unsafe-inline' 'sha256-xyz='", `script-src 'unsafe-inline' 'sha256-xyz=' ${HASH}`],
    ['script-src-elem governs script elements when present', "script-src 'self'; script-src-elem 'self'", `script-src 'self'; script-src-elem 'self' ${HASH}`],
    ["connect-src 'none' becomes 'self'", "connect-src 'none'", "connect-src 'self'"],
    ['connect-src * already allows the stream', 'connect-src *', 'connect-src *'],
    ['a sandbox without allow-scripts runs no script: left alone', "sandbox; default-src 'none'", "sandbox; default-src 'none'"],
  ];
  for (const [what, policy, expected] of cases) {
    it(what, () => assert.equal(allowReloadScript(policy, HASH), expected));
  }
});

describe('rewriteMetaPolicies', () => {
  const allow = (policy: string) => allowReloadScript(policy, HASH);
  const cases: [string, string, string][] = [
    ['a double-quoted policy', `<head><meta http-equiv="Content-Security-Policy" content="script-src 'self'"></head>`, `<head><meta http-equiv="Content-Security-Policy" content="script-src 'self' ${HASH}"></head>`],
    ["content before http-equiv, any case, self-closed", `<META CONTENT="default-src 'none'" HTTP-EQUIV="content-security-policy"/>`, `<META content="default-src 'none'; script-src ${HASH}; connect-src 'self'" HTTP-EQUIV="content-security-policy"/>`],
    ['a single-quoted policy with character references', `<meta http-equiv='Content-Security-Policy' content='script-src &#39;nonce-n1&#39;'>`, `<meta http-equiv='Content-Security-Policy' content="script-src 'nonce-n1' ${HASH}">`],
    ['a report-only policy (browsers ignore it in a meta tag) is left alone', `<meta http-equiv="Content-Security-Policy-Report-Only" content="script-src 'none'">`, `<meta http-equiv="Content-Security-Policy-Report-Only" content="script-src 'none'">`],
    ['other meta tags and the text around are left alone', `<meta charset="utf-8"><meta name="csp" content="script-src 'none'"><title>\u00c3\u00a9</title>`, `<meta charset="utf-8"><meta name="csp" content="script-src 'none'"><title>\u00c3\u00a9</title>`],
  ];
  for (const [what, html, expected] of cases) {
    it(what, () => assert.equal(rewriteMetaPolicies(html, allow), expected));
  }
});
