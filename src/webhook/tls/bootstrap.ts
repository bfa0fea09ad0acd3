import { X509Certificate } from 'node:crypto';
import { APP_LABELS, APP_NAME } from '../../api/metadata.ts';
import { SECRETS } from '../../kube/resources.ts';
import { isConflict, isNotFound, type KubeRest, resourcePath } from '../../kube/rest.ts';
import type { Logger } from '../../observability/logger.ts';
import { createCa, issueCert, type KeyPairPem, loadCa } from '../../pki/index.ts';
import type { CertificateHolder } from './holder.ts';

// `--tls-mode=bootstrap`: a CA and a serving certificate kept in one Secret in the operator namespace.
// Every replica runs the same loop: get the Secret, create it if missing (409 → someone else won: read
// theirs), reissue the serving certificate when it is due (replace with resourceVersion: 409 → re-read),
// and serve what the Secret holds. So replicas converge on one CA and one certificate.

const KEYS = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

export interface BootstrapOptions {
  namespace: string;
  secretName: string;
  /** Names the serving certificate must carry (Service DNS names; 127.0.0.1 for local runs). */
  dnsNames: string[];
  ipAddresses: string[];
  certValidityMs: number;
  /** Reissue this long before notAfter. */
  renewBeforeMs: number;
  caValidityMs: number;
  /** Look again at least this often (picks up a certificate another replica renewed). */
  recheckMs?: number;
}

interface TlsSecret {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

export interface BootstrapState {
  caPem: string;
  serving: KeyPairPem;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);

export class CertificateBootstrapper {
  readonly #rest: KubeRest;
  readonly #opts: BootstrapOptions;
  readonly #holder: CertificateHolder;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Called with the CA PEM whenever it is known (the caBundle patcher listens). */
  readonly #onCa: (caPem: string) => void;

  constructor(
    rest: KubeRest,
    opts: BootstrapOptions,
    holder: CertificateHolder,
    log: Logger,
    onCa: (caPem: string) => void = () => {},
  ) {
    this.#rest = rest;
    this.#opts = opts;
    this.#holder = holder;
    this.#log = log;
    this.#onCa = onCa;
  }

  /** First reconcile (throws if the API server refuses), then keeps renewing on a timer. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.reconcile();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  /** Ensures the Secret holds a valid CA and a serving certificate that is not yet due; serves it. */
  async reconcile(): Promise<BootstrapState> {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const state = await this.#reconcileOnce();
          this.#serve(state);
          this.#schedule(this.#nextCheckMs(state));
          return state;
        } catch (err) {
          if (!isConflict(err) || attempt >= 5) throw err;
        }
      }
    } catch (err) {
      this.#schedule(5_000);
      throw err;
    }
  }

  #path(name?: string): string {
    return resourcePath(SECRETS, this.#opts.namespace, name);
  }

  async #reconcileOnce(): Promise<BootstrapState> {
    let secret: TlsSecret | undefined;
    try {
      secret = await this.#rest.get<TlsSecret>(this.#path(this.#opts.secretName));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const now = Date.now();
    const caCert = unb64(secret?.data?.[KEYS.caCert]);
    const caKey = unb64(secret?.data?.[KEYS.caKey]);
    const serving = {
      certPem: unb64(secret?.data?.[KEYS.cert]) ?? '',
      keyPem: unb64(secret?.data?.[KEYS.key]) ?? '',
    };

    const caUsable = caCert && caKey && notAfter(caCert) - now > this.#opts.certValidityMs;
    if (caUsable && this.#servingIsGood(serving, caCert, now)) return { caPem: caCert, serving };

    const ca = caUsable ? await loadCa({ certPem: caCert, keyPem: caKey }) : await this.#newCa(now, caCert);
    const issued = await issueCert(ca, {
      commonName: this.#opts.dnsNames[0] ?? this.#opts.ipAddresses[0] ?? 'keywarden-webhook',
      dnsNames: this.#opts.dnsNames,
      ipAddresses: this.#opts.ipAddresses,
      usage: 'server',
      notAfter: new Date(now + this.#opts.certValidityMs),
    });
    const data = {
      [KEYS.caCert]: b64(ca.certPem),
      [KEYS.caKey]: b64(ca.keyPem),
      [KEYS.cert]: b64(issued.certPem),
      [KEYS.key]: b64(issued.keyPem),
    };
    if (secret) {
      // resourceVersion makes this a compare-and-swap: a replica that renewed first wins, we re-read.
      await this.#rest.replace(this.#path(this.#opts.secretName), { ...secret, data });
    } else {
      await this.#rest.create(this.#path(), {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: {
          name: this.#opts.secretName,
          namespace: this.#opts.namespace,
          labels: { [APP_LABELS.name]: APP_NAME, [APP_LABELS.component]: 'webhook-tls' },
        },
        data,
      });
    }
    this.#log.info(
      {
        secret: `${this.#opts.namespace}/${this.#opts.secretName}`,
        notAfter: certNotAfterIso(issued.certPem),
      },
      'issued a serving certificate',
    );
    return { caPem: ca.certPem, serving: issued };
  }

  async #newCa(now: number, oldCaPem: string | undefined) {
    if (oldCaPem) this.#log.warn('the webhook CA is missing its key or expires too soon; creating a new CA');
    return createCa(
      `keywarden-webhook-ca@${Math.floor(now / 1000)}`,
      new Date(now + this.#opts.caValidityMs),
    );
  }

  #servingIsGood(serving: KeyPairPem, caPem: string, now: number): boolean {
    if (!serving.certPem || !serving.keyPem) return false;
    try {
      const cert = new X509Certificate(serving.certPem);
      if (!cert.verify(new X509Certificate(caPem).publicKey)) return false;
      if (cert.validToDate.getTime() - this.#opts.renewBeforeMs <= now) return false;
      // Names changed (another Service name or address): reissue.
      if (this.#opts.dnsNames.some((n) => cert.checkHost(n, { wildcards: false }) !== n)) return false;
      return this.#opts.ipAddresses.every((ip) => cert.checkIP(ip) === ip);
    } catch {
      return false;
    }
  }

  #serve(state: BootstrapState): void {
    const before = this.#holder.current?.serialNumber;
    const loaded = this.#holder.set(state.serving);
    if (loaded.serialNumber !== before) {
      this.#log.info(
        { serial: loaded.serialNumber, notAfter: loaded.notAfter },
        'serving certificate in use',
      );
    }
    this.#onCa(state.caPem);
  }

  #nextCheckMs(state: BootstrapState): number {
    const due = notAfter(state.serving.certPem) - this.#opts.renewBeforeMs - Date.now();
    return Math.max(1_000, Math.min(due, this.#opts.recheckMs ?? 60_000));
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.reconcile().catch((err: Error) =>
        this.#log.warn({ err: err.message }, 'serving certificate check failed'),
      );
    }, ms);
    this.#timer.unref();
  }
}

function notAfter(pem: string): number {
  return new X509Certificate(pem).validToDate.getTime();
}

function certNotAfterIso(pem: string): string {
  return new X509Certificate(pem).validToDate.toISOString();
}
