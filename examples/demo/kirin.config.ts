import { defineConfig } from 'kirin';

// The demo site `npm start` serves: an app, its static files and a fixed answer,
// on http://127.0.0.1:8000 (PORT=… to change it). The site is keyed by the names
// it answers to; a request for any other Host gets 421 Misdirected Request.
export default defineConfig({
  workers: 2,
  listen: { http: [`127.0.0.1:${process.env.PORT ?? 8000}`] },
  sites: {
    'localhost, 127.0.0.1': {
      '/static/': { static: './public' },
      '/robots.txt': { respond: 'User-agent: *\nDisallow:\n' },
      '/': { app: './app.ts' },
    },
  },
});
