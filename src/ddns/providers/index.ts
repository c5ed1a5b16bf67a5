/** The provider module for a plan: each speaks one protocol behind the DdnsProvider interface. */
import type { SecretReader } from '../credentials.ts';
import type { ProviderPlan } from '../plan.ts';
import { CloudflareProvider } from './cloudflare.ts';
import { DuckdnsProvider } from './duckdns.ts';
import { Dyndns2Provider } from './dyndns2.ts';
import type { DdnsProvider } from './provider.ts';
import { Rfc2136Provider } from './rfc2136.ts';

export function createProvider(plan: ProviderPlan, secret: SecretReader): DdnsProvider {
  switch (plan.kind) {
    case 'rfc2136':
      return new Rfc2136Provider(plan, secret);
    case 'cloudflare':
      return new CloudflareProvider(plan, secret);
    case 'dyndns2':
      return new Dyndns2Provider(plan, secret);
    case 'duckdns':
      return new DuckdnsProvider(plan, secret);
  }
}
