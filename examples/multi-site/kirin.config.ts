import { defineConfig } from 'kirin';

export default defineConfig({
  workers: 2,
  listen: { http: ['127.0.0.1:8080'] },
  envFiles: ['.env'],
  trustedProxies: ['127.0.0.1/32'],
  services: {
    django: { command: 'gunicorn mysite.wsgi --bind unix:{socket} --workers 2', cwd: './mysite' },
  },
  sites: {
    'blog.example.test, www.blog.example.test': {
      '/static/': { static: './staticfiles', immutable: true },
      '/admin/': { app: './app.ts', allow: ['127.0.0.1', '192.168.0.0/16'] },
      '/': { app: './app.ts' },
    },
    'shop.example.test': {
      '/static/': { static: './mysite/staticfiles' },
      '/': { proxy: { service: 'django' } },
    },
    'api.example.test': {
      '/': { proxy: { to: ['http://127.0.0.1:9001', 'http://127.0.0.1:9002'], lb: 'round_robin', health: '/healthz' } },
    },
  },
});
