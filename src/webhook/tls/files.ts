import { readFile } from 'node:fs/promises';
import type { Logger } from '../../observability/logger.ts';
import type { CertificateHolder } from './holder.ts';

/**
 * `--tls-mode=files`: the certificate comes from files (cert-manager mounts its Secret; the CA reaches
 * the webhook configurations through cainjector). Kubelet swaps a mounted Secret's files atomically via
 * a symlink, which fs.watch misses, so the files are polled: cheap, and it works on every volume type.
 */
export class FileCertificateSource {
  readonly #certFile: string;
  readonly #keyFile: string;
  readonly #holder: CertificateHolder;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #lastError = '';

  constructor(opts: {
    certFile: string;
    keyFile: string;
    holder: CertificateHolder;
    log: Logger;
    intervalMs: number;
  }) {
    this.#certFile = opts.certFile;
    this.#keyFile = opts.keyFile;
    this.#holder = opts.holder;
    this.#log = opts.log;
    this.#intervalMs = opts.intervalMs;
  }

  /** Loads once (throws when the files are missing or do not match), then keeps polling. */
  async start(): Promise<void> {
    await this.load();
    this.#timer = setInterval(() => {
      this.load().catch((err: Error) => {
        // A half-written pair is normal for a moment during a swap; keep serving the old one.
        if (err.message !== this.#lastError)
          this.#log.warn({ err: err.message }, 'could not reload the TLS files');
        this.#lastError = err.message;
      });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async load(): Promise<void> {
    const [certPem, keyPem] = await Promise.all([
      readFile(this.#certFile, 'utf8'),
      readFile(this.#keyFile, 'utf8'),
    ]);
    const before = this.#holder.current?.serialNumber;
    let loaded: ReturnType<CertificateHolder['set']>;
    try {
      loaded = this.#holder.set({ certPem, keyPem });
    } catch (err) {
      throw new Error(
        `${this.#certFile} and ${this.#keyFile} are not a matching certificate and key: ${(err as Error).message}`,
      );
    }
    this.#lastError = '';
    if (loaded.serialNumber !== before) {
      this.#log.info(
        { serial: loaded.serialNumber, notAfter: loaded.notAfter },
        'serving certificate loaded from files',
      );
    }
  }
}
