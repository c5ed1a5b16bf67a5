import { defineConfig } from 'kirin';

// A Django site on your own machine, in production: Kirin runs gunicorn (and
// restarts it), serves the files `collectstatic` gathered, and puts HTTPS from
// Let's Encrypt in front. .env holds the secrets; it reaches gunicorn too.
// See docs/production.md, "A Django app".
export default defineConfig({
  envFiles: ['.env'],
  listen: { http: [':80'], https: [':443'] },
  tls: { email: 'admin@example.com' },
  services: {
    django: { command: 'gunicorn mysite.wsgi --bind unix:{socket} --workers 3', cwd: './mysite' },
  },
  sites: {
    'shop.example.com': {
      '/static/': { static: './mysite/staticfiles' },
      '/': { proxy: { service: 'django' } },
    },
  },
});
