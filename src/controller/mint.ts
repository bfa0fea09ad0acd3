import { randomBytes } from 'node:crypto';
import { isAlreadyExists, isConflict } from '../kube/rest.ts';
import { generateKey, generateKeyId, hashKey, keyHint } from '../rules/index.ts';
import {
  atRestBinding,
  deliveryKeySecret,
  deliveryKeySecretName,
  deliverySecret,
  getSecret,
  openAtRest,
  readDeliveryKey,
  type SecretObject,
  type StagedKey,
  sealAtRest,
  sealForRecipient,
  secretsPath,
} from './delivery.ts';
import type { LiveApiKey, Need } from './plan.ts';
import type { KubeClient, Writes } from './writes.ts';

// The reconcile's I/O needs around the one-time copy: mint and stage a key (sealed at rest with the
// ApiKey's data key, or to its recipient), and open a staged copy again.

export interface MintContext {
  rest: KubeClient;
  writes: Writes;
  operatorNamespace: string;
  deliveryTtlMs: number;
  now: () => Date;
}

/**
 * Mints a key for the generation and writes its delivery Secret: the first write of a mint, so a crash
 * later is repaired from it. Returns a message when spec.delivery.recipient cannot be sealed to.
 */
export async function stageNewKey(
  ctx: MintContext,
  ak: LiveApiKey,
  need: Extract<Need, { kind: 'stage' }>,
): Promise<(StagedKey & { secret: SecretObject }) | string> {
  const { generation } = need;
  const keyId = need.keyId ?? generateKeyId();
  const plaintext = generateKey({
    type: ak.spec.type ?? 'private',
    environment: ak.spec.environment,
    keyId,
  });
  let jwe: string | undefined;
  if (ak.spec.delivery?.recipient) {
    try {
      jwe = await sealForRecipient(plaintext, ak.spec.delivery.recipient);
    } catch (err) {
      return `spec.delivery.recipient is not a usable public JWK: ${(err as Error).message}`;
    }
  }
  const hash = hashKey(plaintext);
  const sealed = jwe
    ? undefined
    : await sealAtRest(
        plaintext,
        await dataKey(ctx.rest, ak),
        atRestBinding({ apiKeyUid: ak.metadata.uid, generation, keyId, hash }),
      );
  const staged = {
    generation,
    hash,
    keyId,
    hint: keyHint(plaintext),
    ...(jwe ? { jwe } : { sealed }),
    expiresAt: new Date(ctx.now().getTime() + ctx.deliveryTtlMs).toISOString(),
  };
  const body = deliverySecret(ctx.operatorNamespace, ak, staged);
  // Replacing an older generation's unrevealed copy (its key stops working with this mint) carries the
  // resourceVersion read; a copy there already that we did not see means plan again (it may be this
  // generation's, staged by an earlier run: never a second key for one generation).
  const written = await ctx.writes.writeSecret(body, need.existing);
  return { ...staged, ...(jwe ? {} : { plaintext }), apiKeyUid: ak.metadata.uid, secret: written };
}

/** The ApiKey's data key (made on first use): what its delivery copy is sealed with at rest. */
async function dataKey(rest: KubeClient, ak: LiveApiKey): Promise<Uint8Array> {
  const ns = ak.metadata.namespace;
  const name = deliveryKeySecretName(ak.metadata.name);
  for (let attempt = 0; attempt < 3; attempt++) {
    // Create first: a new ApiKey (the common case) costs one call.
    const fresh = new Uint8Array(randomBytes(32));
    const body = deliveryKeySecret(ak, fresh);
    try {
      await rest.create(secretsPath(ns), body);
      return fresh;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const existing = await getSecret(rest, ns, name);
    if (!existing) continue;
    const key = readDeliveryKey(existing, ak.metadata.uid);
    if (key) return key;
    // Left by a deleted ApiKey of the same name: replace it (resourceVersion precondition).
    body.metadata.resourceVersion = existing.metadata.resourceVersion;
    try {
      await rest.replace(secretsPath(ns, name), body);
      return fresh;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  throw new Error(`cannot settle the data key Secret ${ns}/${name}: it keeps changing`);
}

/** Opens the copy sealed at rest; undefined when it cannot be (data key gone or replaced). */
export async function openStaged(
  rest: KubeClient,
  ak: LiveApiKey,
  staged: StagedKey,
): Promise<string | undefined> {
  if (staged.sealed === undefined) return undefined;
  const secret = await getSecret(rest, ak.metadata.namespace, deliveryKeySecretName(ak.metadata.name));
  const key = secret && readDeliveryKey(secret, ak.metadata.uid);
  if (!key) return undefined;
  return openAtRest(staged.sealed, key, atRestBinding(staged));
}
