/**
 * What a visitor who arrives now is served by a test host's Kirin: a new
 * connection each time. A pooled keep-alive connection could still reach a
 * worker of the generation a reload just retired — it answers what arrives on
 * a connection it had accepted while it drains — which says nothing about
 * the release that serves now.
 */
import { request, type SimpleResponse } from '../../support/http.ts';
import type { TestHost } from './test-host.ts';

export function visit(host: TestHost, path = '/', headers?: Record<string, string>): Promise<SimpleResponse> {
  return request(`http://${host.address}:8000${path}`, { agent: false, headers });
}
