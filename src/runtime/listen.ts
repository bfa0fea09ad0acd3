import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

// The one listening and closing code for every server keywarden runs (main ports, admin ports, the
// webhook's HTTPS port, the console).

export type AnyServer = HttpServer | HttpsServer;

/** Listens on port (0: any free one) and host; rejects when the port cannot be had. */
export function listen(server: AnyServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The port a server listens on; 0 when it is not listening (not started, or closed). */
export function listeningPort(server: AnyServer | undefined): number {
  const a = server?.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/**
 * Stops accepting and lets in-flight requests finish for up to drainMs (0: none), then closes every
 * connection that is left. Resolves with whether the drain finished in time.
 */
export async function closeServer(server: AnyServer | undefined, drainMs = 0): Promise<boolean> {
  if (!server?.listening) return true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let drained = true;
  if (drainMs > 0) {
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), drainMs).unref(),
    );
    drained = (await Promise.race([closed, timeout])) !== 'timeout';
  }
  server.closeAllConnections();
  await closed;
  return drained;
}
