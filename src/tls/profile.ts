/**
 * TLS settings from Mozilla's "intermediate" profile (server-side-tls, v5.7):
 * TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy for 1.2, curves
 * X25519, P-256, P-384. DHE suites are left out: they need a dhparam file and
 * add nothing to ECDHE.
 *
 * One departure: Mozilla leaves the choice of cipher to the client (every
 * suite here is strong); Kirin uses its own order, which testssl.sh expects
 * (it rates "no server cipher order" HIGH), with OpenSSL's ChaCha20 priority:
 * a client that lists ChaCha20 first (a phone without AES instructions) still
 * gets it.
 */
import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';

export const TLS_MIN_VERSION = 'TLSv1.2';

export const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

export const ECDH_CURVES = 'X25519:P-256:P-384';

/** Options for every secure context Kirin makes: the listener's default one and each certificate's. */
export const SECURE_CONTEXT_OPTIONS: SecureContextOptions = {
  minVersion: TLS_MIN_VERSION,
  maxVersion: 'TLSv1.3',
  ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':'),
  ecdhCurve: ECDH_CURVES,
  honorCipherOrder: true,
  secureOptions: constants.SSL_OP_PRIORITIZE_CHACHA,
};

/** The ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737). */
export const ACME_TLS_ALPN = 'acme-tls/1';
