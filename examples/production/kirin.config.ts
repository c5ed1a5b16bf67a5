import { defineConfig } from 'kirin';

// A site on your own machine, in production: HTTPS from Let's Encrypt for the
// names DNS points here, the app's secrets in .env, and nothing else exposed.
// `kirin check --deploy` passes on it once .env holds real secrets
// (see docs/production.md).
export default defineConfig({
  envFiles: ['.env'],
  listen: { http: [':80'], https: [':443'] },
  tls: { email: 'admin@example.com' },
  // Recycle a worker that leaks past this, before the machine runs short.
  maxMemory: '300mb',
  sites: {
    'example.com': {
      '/static/': { static: './public' },
      '/': { app: './app.ts' },
    },
    // One canonical name: the other one redirects to it, path and query kept.
    'www.example.com': {
      '/': { redirect: 'https://example.com{path}{query}' },
    },
  },
});
