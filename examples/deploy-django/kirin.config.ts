import { defineConfig } from 'kirin';

// The seeds' Django site on a VPS or home server: gunicorn as a Kirin service,
// static files from Kirin, HTTPS, and `kirin deploy` instead of a deploy script.
export default defineConfig({
  envFiles: ['.env'],
  listen: { http: [':80'], https: [':443'] },
  tls: { email: 'admin@example.com' },
  services: {
    django: { command: 'gunicorn mysite.wsgi --bind unix:{socket} --workers 2', cwd: './mysite' },
  },
  sites: {
    'shop.example.com': {
      '/static/': { static: './mysite/staticfiles', immutable: false },
      '/': { proxy: { service: 'django' } },
    },
  },
  deploy: {
    hosts: ['deploy@shop.example.com'],
    path: '/srv/shop',
    // Uploaded 0600 next to each release, linked as .env; never printed.
    env: '.env.production',
    // The SQLite database lives across releases.
    shared: ['mysite/data/'],
    exclude: ['/mysite/staticfiles/', '__pycache__/', '*.pyc'],
    hooks: {
      // Every host, in the new release, before `kirin check --deploy`: the /static/ folder must exist to pass it.
      afterInstall: ['cd mysite && python3 manage.py collectstatic --noinput'],
      // Once per deploy, on the first host, after the check and before the switch: a failure switches nothing.
      beforeSwitch: ['cd mysite && python3 manage.py migrate --noinput'],
    },
    healthPath: '/',
  },
});
