import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeConfig } from '../../../src/config/normalize.ts';

function problems(raw: Record<string, unknown>): string {
  try {
    normalizeConfig({ raw, file: '/srv/app/kirin.config.ts', cwd: '/srv/app', env: {} });
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('proxy config', () => {
  it('refuses a proxy to a service that has neither {socket} nor {port}, naming the key', () => {
    const message = problems({ services: { mailer: 'python3 manage.py run_mail_queue' }, sites: { 'a.test': { '/': { proxy: { service: 'mailer' } } } } });
    assert.match(message, /kirin\.config\.ts: sites\["a\.test"\]\["\/"\]\.proxy\.service: the service "mailer" has no \{socket\} or \{port\}/);
  });

  it('accepts a proxy to a {socket} or {port} service, and fills in the socket path', () => {
    const plan = normalizeConfig({
      raw: { stateDir: '/var/lib/kirin', services: { web: 'gunicorn app --bind unix:{socket}', api: 'node api.js --port {port}' }, sites: { 'a.test': { '/api/': { proxy: { service: 'api' } }, '/': { proxy: { service: 'web' } } } } },
      file: '/srv/app/kirin.config.ts',
      cwd: '/srv/app',
      env: {},
    });
    assert.equal(plan.services.web!.socket, '/var/lib/kirin/run/web.sock');
    assert.equal(plan.services.api!.usesPort, true);
  });
});
