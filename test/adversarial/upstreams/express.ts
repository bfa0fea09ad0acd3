// A protected API on Express 5 with its defaults (case-insensitive routing, a trailing slash ignored):
// the admin handlers need admin:manage, everything else is the broad handler. Every handler that
// runs prints HIT <handler> <JSON request target>; LISTEN <port> once listening on 127.0.0.1.
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';

const hit = (name: string) => (req: Request, res: Response) => {
  process.stdout.write(`HIT ${name} ${JSON.stringify(req.originalUrl)}\n`);
  res.set('X-Handler', name).type('text/plain').send(`handler=${name}\n`);
};

const app = express();
app.all('/v1/admin/users', hit('admin'));
app.all('/v1/admin/users/:id', hit('admin'));
app.all('/v1/admin', hit('admin'));
app.all('/v1/admin/*rest', hit('admin'));
app.use(hit('broad'));
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTEN ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
