// bench/dev.ts: a small Hono app whose body comes from message.ts (the file the bench saves).
import { Hono } from 'hono';
import { message } from './message.ts';

const app = new Hono();
app.get('/', (c) => c.text(message()));
app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
export default app;
