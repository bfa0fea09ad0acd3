import { generateKey, generateKeyId, hashKey, keyHint } from '../rules/index.ts';
import { DataKeyConflict, type DataKeys } from './data-keys.ts';
import {
  atRestBinding,
  deliverySecret,
  type SecretObject,
  type StagedKey,
  sealAtRest,
  sealForRecipient,
} from './delivery.ts';
import type { LiveApiKey, Need, StageRefused } from './plan.ts';
import type { Writes } from './writes.ts';

// The reconcile's I/O need of a mint: mint and stage a key (sealed at rest with the namespace's data
// key, or to its recipient). Opening a staged copy again is DataKeys.open.

export interface MintContext {
  dataKeys: DataKeys;
  writes: Writes;
  operatorNamespace: string;
  deliveryTtlMs: number;
  now: () => Date;
}

/**
 * Mints a key for the generation and writes its delivery Secret: the first write of a mint, so a crash
 * later is repaired from it. Returns why not when spec.delivery.recipient cannot be sealed to or the
 * namespace's data-key Secret is someone else's (the plan states it in the status).
 */
export async function stageNewKey(
  ctx: MintContext,
  ak: LiveApiKey,
  need: Extract<Need, { kind: 'stage' }>,
): Promise<(StagedKey & { secret: SecretObject }) | { refused: StageRefused }> {
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
      const message = `spec.delivery.recipient is not a usable public JWK: ${(err as Error).message}`;
      return { refused: { reason: 'InvalidRecipient', message } };
    }
  }
  const hash = hashKey(plaintext);
  let sealed: string | undefined;
  if (!jwe) {
    let dataKey: Uint8Array;
    try {
      dataKey = await ctx.dataKeys.forSealing(ak.metadata.namespace);
    } catch (err) {
      if (err instanceof DataKeyConflict)
        return { refused: { reason: 'DataKeyConflict', message: err.message } };
      throw err;
    }
    sealed = await sealAtRest(
      plaintext,
      dataKey,
      atRestBinding({ apiKeyUid: ak.metadata.uid, generation, keyId, hash }),
    );
  }
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
