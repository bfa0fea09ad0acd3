import { readFile, stat } from 'node:fs/promises';
import { Informer } from '../../kube/informer.ts';
import { SECRETS } from '../../kube/resources.ts';
import type { KubeRest } from '../../kube/rest.ts';
import type { JwtAlgorithm, SigningKeySource } from '../config/types.ts';
import { JwtSigner, type PublicJwk, type SignerOptions } from './signer.ts';

// The JWT signing key, from a Secret (watched, so a rotated key is picked up at once) or from a file
// (e.g. the same Secret mounted as a volume; re-read when it changes). After a rotation the old public
// key stays in the JWKS for one token lifetime, so tokens signed just before still verify.

export class SigningKeys {
  #signer: JwtSigner | undefined;
  #retired: { jwk: PublicJwk; untilMs: number }[] = [];
  readonly #opts: SignerOptions & { algorithm?: JwtAlgorithm };
  readonly #onError: (message: string) => void;
  readonly #onLoaded: (kid: string) => void;
  #stop: (() => void) | undefined;

  constructor(
    opts: SignerOptions & { algorithm?: JwtAlgorithm },
    onError: (message: string) => void,
    onLoaded: (kid: string) => void = () => {},
  ) {
    this.#opts = opts;
    this.#onError = onError;
    this.#onLoaded = onLoaded;
  }

  get signer(): JwtSigner | undefined {
    return this.#signer;
  }

  /** The JWKS document: the current key, plus recently retired ones. */
  jwks(nowMs = Date.now()): { keys: PublicJwk[] } {
    this.#retired = this.#retired.filter((r) => r.untilMs > nowMs);
    return { keys: [...(this.#signer ? [this.#signer.publicJwk] : []), ...this.#retired.map((r) => r.jwk)] };
  }

  async load(pem: string): Promise<void> {
    try {
      const next = await JwtSigner.fromPem(pem, this.#opts, this.#opts.algorithm);
      const old = this.#signer;
      if (old?.kid === next.kid) return;
      if (old) this.#retired.push({ jwk: old.publicJwk, untilMs: Date.now() + this.#opts.ttlMs + 60_000 });
      this.#signer = next;
      this.#onLoaded(next.kid);
    } catch (err) {
      this.#onError(`cannot use the JWT signing key: ${(err as Error).message}`);
    }
  }

  start(source: SigningKeySource, rest: KubeRest | undefined): void {
    if ('file' in source) {
      this.#watchFile(source.file);
      return;
    }
    if (!rest) throw new Error('a signing key in a Secret needs API server access');
    const { namespace, name, key } = source.secret;
    const informer = new Informer<{ metadata: { name: string }; data?: Record<string, string> }>(rest, {
      resource: SECRETS,
      namespace,
      fieldSelector: `metadata.name=${name}`,
      onError: (err) =>
        this.#onError(
          `watching the signing key Secret ${namespace}/${name} failed: ${(err as Error).message}`,
        ),
    });
    const use = (s: { data?: Record<string, string> }) => {
      const value = s.data?.[key];
      if (value === undefined) return this.#onError(`Secret ${namespace}/${name} has no field ${key}`);
      void this.load(Buffer.from(value, 'base64').toString('utf8'));
    };
    informer.on('add', use);
    informer.on('update', use);
    informer.on('synced', () => {
      if (informer.size === 0)
        this.#onError(`the signing key Secret ${namespace}/${name} does not exist (yet)`);
    });
    informer.start();
    this.#stop = () => informer.stop();
  }

  #watchFile(file: string): void {
    let mtime = 0;
    const poll = async () => {
      try {
        const s = await stat(file);
        if (s.mtimeMs === mtime) return;
        mtime = s.mtimeMs;
        await this.load(await readFile(file, 'utf8'));
      } catch (err) {
        this.#onError(`cannot read the signing key file ${file}: ${(err as Error).message}`);
      }
    };
    void poll();
    const timer = setInterval(poll, 10_000);
    timer.unref();
    this.#stop = () => clearInterval(timer);
  }

  stop(): void {
    this.#stop?.();
  }
}
