// bench/dev.ts: a small Express app whose body comes from message.ts (the file the bench saves).
import express from 'express';
import { message } from './message.ts';

const app = express();
app.get('/', (_req, res) => {
  res.type('text/plain').send(message());
});
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});
export default app;
