// The same Express app standing alone, for node --watch and nodemon.
import app from './express-app.mjs';

app.listen(Number(process.env.PORT), '127.0.0.1');
