import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createSecureContext } from 'node:tls';

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
}

export interface LoadedCertificate extends ServingCertificate {
  notAfter: Date;
  serialNumber: string;
}

/**
 * The serving certificate in use. Whoever obtains certificates (bootstrap or files) sets it here; the
 * HTTPS server listens for `change` and swaps its secure context, so renewal needs no restart.
 */
export class CertificateHolder extends EventEmitter<{ change: [LoadedCertificate] }> {
  #current: LoadedCertificate | undefined;

  get current(): LoadedCertificate | undefined {
    return this.#current;
  }

  /** Checks the pair (a key that does not match the certificate throws) and puts it in use. */
  set(pair: ServingCertificate): LoadedCertificate {
    if (this.#current && this.#current.certPem === pair.certPem && this.#current.keyPem === pair.keyPem) {
      return this.#current;
    }
    createSecureContext({ cert: pair.certPem, key: pair.keyPem });
    const x509 = new X509Certificate(pair.certPem);
    const loaded = { ...pair, notAfter: new Date(x509.validTo), serialNumber: x509.serialNumber };
    this.#current = loaded;
    this.emit('change', loaded);
    return loaded;
  }
}
