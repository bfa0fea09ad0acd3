import {
  calculateJwkThumbprint,
  compactDecrypt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
} from 'jose';
import { APIKEY_RESOURCE, type ApiKeyStatus } from '../api/index.ts';
import { REVEAL_ANNOTATIONS } from '../api/metadata.ts';
import { type RevealRequest, serializeRevealRequest } from '../api/reveal.ts';
import { pointer } from '../kube/admission/json-patch.ts';
import { isNotFound, type KubeRest, resourcePath } from '../kube/rest.ts';
import { type ErrorCode, formatDuration, KeywardenError } from '../rules/index.ts';

// The reader's half of the reveal contract (src/api/reveal.ts), used by every tool that reveals a key
// as its user: `keywarden reveal`, the console and `keywarden dev`.

/** Why a reveal did not return a key; each tool turns the code into its own answer (exit code, HTTP status). */
type RevealErrorCode = Extract<
  ErrorCode,
  'not_found' | 'still_minting' | 'sealed' | 'already_revealed' | 'no_answer'
>;

export class RevealError extends KeywardenError<RevealErrorCode> {}

/** Wait for the controller's answer this long before giving up (it answers within a reconcile). */
export const REVEAL_TIMEOUT_MS = 30_000;
const POLL_MS = 250;

interface ApiKeyView {
  metadata: { resourceVersion?: string };
  spec?: { rotation?: { generation?: number } };
  status?: ApiKeyStatus;
}

const apiKeyPath = (ns: string, name: string) => resourcePath(APIKEY_RESOURCE, ns, name);

/**
 * Prints the one-time copy of a key; the controller destroys its copy as it answers. The CLI makes a
 * one-time EC P-256 key pair, writes the public half onto the ApiKey as a reveal request (patching the
 * ApiKey is the only right it needs), and the controller seals the key to it in status.delivery.jwe.
 * The private half never leaves this process. Of two readers racing, the one whose public key the
 * controller sealed to gets the key; the other is told it was already revealed.
 */
export async function revealKey(
  rest: KubeRest,
  namespace: string,
  name: string,
  opts: { timeoutMs?: number } = {},
): Promise<string> {
  const already =
    `The key of ApiKey ${namespace}/${name} was already revealed, or its one-time copy expired. ` +
    `To get a new key, regenerate it: kubectl keywarden regenerate ${name} -n ${namespace}`;
  const get = async (): Promise<ApiKeyView> => {
    try {
      return await rest.get<ApiKeyView>(apiKeyPath(namespace, name));
    } catch (err) {
      if (isNotFound(err)) throw new RevealError('not_found', `ApiKey ${namespace}/${name} not found`);
      throw err;
    }
  };
  const deadline = Date.now() + (opts.timeoutMs ?? REVEAL_TIMEOUT_MS);
  let ak = await get();
  const { keyId, generation } = revealable(ak, namespace, name, already);

  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  const request: RevealRequest = {
    keyId,
    generation,
    jwk: { kty: 'EC', crv: 'P-256', x: pub.x as string, y: pub.y as string, kid },
  };
  const text = serializeRevealRequest(request);
  await rest.patch(
    apiKeyPath(namespace, name),
    { metadata: { annotations: { [REVEAL_ANNOTATIONS.request]: text } } },
    'merge',
  );

  let withdrawn = false;
  for (;;) {
    const delivery = ak.status?.delivery;
    const sameKey = ak.status?.keyId === keyId && (ak.status?.rotationGeneration ?? 0) === generation;
    if (sameKey && delivery?.state === 'Revealed') {
      if (!delivery.jwe || decodeProtectedHeader(delivery.jwe).kid !== kid) {
        throw new RevealError('already_revealed', already);
      }
      const { plaintext } = await compactDecrypt(delivery.jwe, privateKey);
      return new TextDecoder().decode(plaintext);
    }
    if (!sameKey || (delivery && delivery.state !== 'Pending'))
      throw new RevealError('already_revealed', already);
    if (Date.now() > deadline && !withdrawn) {
      // Withdraw the request, so the copy is not sealed later to a key that is gone with this process;
      // then look once more, in case the controller answered just before.
      await withdraw(rest, apiKeyPath(namespace, name), text);
      withdrawn = true;
    } else if (withdrawn) {
      throw new RevealError(
        'no_answer',
        `The keywarden controller did not answer the reveal request for ApiKey ${namespace}/${name} within ` +
          `${formatDuration(opts.timeoutMs ?? REVEAL_TIMEOUT_MS)}; is it running? The request stays on the ApiKey; run the command again.`,
      );
    }
    await sleep(POLL_MS);
    ak = await get();
  }
}

/** The key id and generation of a copy that can be revealed now; else why not, as a RevealError. */
function revealable(
  ak: ApiKeyView,
  namespace: string,
  name: string,
  already: string,
): { keyId: string; generation: number } {
  // A freshly created or regenerated key whose new copy is not staged yet.
  if (
    !ak.status?.keyId ||
    !ak.status.delivery ||
    (ak.status.rotationGeneration ?? 0) < (ak.spec?.rotation?.generation ?? 0)
  ) {
    throw new RevealError(
      'still_minting',
      `The key of ApiKey ${namespace}/${name} is still being minted; try again in a few seconds.`,
    );
  }
  const state = ak.status.delivery.state;
  if (state === 'Sealed') {
    throw new RevealError(
      'sealed',
      `ApiKey ${namespace}/${name} has no revealable copy (it was sealed for a recipient: see status.delivery.jwe)`,
    );
  }
  if (state !== 'Pending') throw new RevealError('already_revealed', already);
  return { keyId: ak.status.keyId, generation: ak.status.rotationGeneration ?? 0 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Removes our reveal request if it is still the one on the ApiKey (a JSON Patch test guards it). */
async function withdraw(rest: KubeRest, path: string, text: string): Promise<void> {
  const at = pointer(['metadata', 'annotations', REVEAL_ANNOTATIONS.request]);
  try {
    await rest.patch(
      path,
      [
        { op: 'test', path: at, value: text },
        { op: 'remove', path: at },
      ],
      'json',
    );
  } catch {
    // Another request replaced ours, or the ApiKey is gone: nothing of ours is left to withdraw.
  }
}
