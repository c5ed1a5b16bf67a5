/**
 * What the master's certificate manager and the workers say to each other.
 * Workers never read keys from disk or talk to a CA: they load what these
 * messages carry.
 *
 *   ask  'tls-snapshot'                 → TlsSnapshot (at boot, before the worker is ready)
 *   push 'tls-certificate'              WorkerCertificate (new or renewed)
 *   push 'tls-certificate-removed'      { id }
 *   push 'tls-challenges'               ChallengeState (the whole set, replaced)
 *   push 'tls-ticket-keys'              { keys } (base64, 48 bytes)
 *   event 'tls-challenges-applied'      { version } (a worker answers the new challenges)
 */

export interface WorkerCertificate {
  /** The primary name; one certificate per site. */
  id: string;
  /** The host names this certificate is served for. */
  names: string[];
  /** Chain, leaf first. */
  certPem: string;
  keyPem: string;
}

export interface ChallengeState {
  version: number;
  /** HTTP-01: token → key authorization. */
  http01: Record<string, string>;
  /** TLS-ALPN-01: the validation certificate for each name being validated. */
  alpn: WorkerCertificate[];
}

export interface TlsSnapshot {
  certificates: WorkerCertificate[];
  challenges: ChallengeState;
  ticketKeys: string;
}

export const TLS_MESSAGES = {
  snapshot: 'tls-snapshot',
  certificate: 'tls-certificate',
  certificateRemoved: 'tls-certificate-removed',
  challenges: 'tls-challenges',
  ticketKeys: 'tls-ticket-keys',
  challengesApplied: 'tls-challenges-applied',
} as const;
