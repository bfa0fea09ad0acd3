import type { Server } from 'node:http';
import express from 'express';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** Alive and able to make progress (e.g. its watches are not dead). */
  healthz: () => { ok: boolean; reason?: string };
  /** Ready to serve (e.g. caches synced). */
  readyz: () => { ok: boolean; reason?: string };
}

/** /healthz, /readyz and /metrics on one port, as controller-runtime's manager serves them. */
export function startHealthServer(opts: {
  port: number;
  host?: string;
  registry: Registry;
  checks: HealthChecks;
}): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  const answer =
    (check: () => { ok: boolean; reason?: string }) => (_req: express.Request, res: express.Response) => {
      const r = check();
      res
        .status(r.ok ? 200 : 503)
        .type('text/plain')
        .send(r.ok ? 'ok\n' : `not ok: ${r.reason ?? 'unknown'}\n`);
    };
  app.get('/healthz', answer(opts.checks.healthz));
  app.get('/readyz', answer(opts.checks.readyz));
  app.get('/metrics', async (_req, res) => {
    res.type(opts.registry.contentType).send(await opts.registry.metrics());
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve(server));
    server.on('error', reject);
  });
}
