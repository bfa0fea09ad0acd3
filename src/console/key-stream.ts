import type { Request, Response } from 'express';
import { APIKEY_RESOURCE } from '../api/index.ts';
import { Informer } from '../kube/informer.ts';
import type { KubeRest } from '../kube/rest.ts';
import { refusalOf } from './keys.ts';
import type { ConsoleKey } from './view.ts';

/** Server-Sent Events of the ApiKeys the user can list, from one watch with their credentials. */
export class KeyStream {
  readonly informer: Informer<ConsoleKey & { metadata: { namespace: string } }>;
  readonly #clients = new Set<Response>();
  #error: string | undefined;

  constructor(rest: KubeRest, namespace: string | undefined) {
    this.informer = new Informer(rest, {
      resource: APIKEY_RESOURCE,
      ...(namespace ? { namespace } : {}),
      maxBackoffMs: 5_000,
      onError: (err) => {
        const r = refusalOf(err);
        this.#error =
          r.status === 403
            ? `Forbidden: you may not list ApiKeys ${namespace ? `in ${namespace}` : 'in all namespaces'} (${r.message}).${namespace ? '' : ' Start the console with -n NAMESPACE.'}`
            : r.message;
        this.#send('problem', { message: this.#error });
      },
    });
    this.informer.on('add', (o) => this.#upsert(o));
    this.informer.on('update', (o) => this.#upsert(o));
    this.informer.on('delete', (o) =>
      this.#send('delete', { namespace: o.metadata.namespace, name: o.metadata.name }),
    );
    this.informer.on('synced', () => this.#snapshotAll());
    this.informer.on('relisted', () => this.#snapshotAll());
  }

  #upsert(o: ConsoleKey): void {
    if (this.#error) {
      this.#error = undefined;
      this.#send('problem', { message: null });
    }
    this.#send('upsert', o);
  }

  #snapshotAll(): void {
    this.#error = undefined;
    for (const res of this.#clients) this.#snapshot(res);
  }

  #snapshot(res: Response): void {
    res.write(`event: snapshot\ndata: ${JSON.stringify(this.informer.list())}\n\n`);
  }

  #send(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.#clients) res.write(frame);
  }

  attach(req: Request, res: Response): void {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Connection', 'keep-alive');
    res.flushHeaders();
    this.#clients.add(res);
    if (this.informer.hasSynced) this.#snapshot(res);
    if (this.#error) res.write(`event: problem\ndata: ${JSON.stringify({ message: this.#error })}\n\n`);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(ping);
      this.#clients.delete(res);
    });
  }

  close(): void {
    this.informer.stop();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}
