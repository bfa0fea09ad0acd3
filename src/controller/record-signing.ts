import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  RECORD_KEYS_CONFIGMAP,
  RECORD_KEYS_KEY,
  type RecordSigningKey,
  recordKeyId,
  recordKeySetJson,
} from '../api/hash-record.ts';
import { COMPONENTS, LABELS, MANAGED_BY } from '../api/metadata.ts';
import { CONFIGMAPS } from '../kube/resources.ts';
import { isAlreadyExists, isNotFound, type KubeRest, resourcePath } from '../kube/rest.ts';
import { getSecret, secretsPath } from './delivery.ts';

// The controller's record signing key (Ed25519): the private half in a Secret of the operator's
// namespace that only the controller reads, the public half published in a ConfigMap there that
// validators read. Made on first start, like the webhook's bootstrap CA; kept across restarts.

const RECORD_SIGNING_SECRET = 'keywarden-record-signing-key';
const PRIVATE_KEY_FIELD = 'private-key.pem';

function fromPem(pem: string): RecordSigningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`the record signing key must be Ed25519, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  return { kid: recordKeyId(publicKey), privateKey, publicKey };
}

/** Reads the signing key, or makes it (two replicas racing: the loser reads the winner's). */
export async function ensureRecordSigningKey(
  rest: KubeRest,
  namespace: string,
  secretName = RECORD_SIGNING_SECRET,
): Promise<RecordSigningKey> {
  const read = async () => {
    const s = await getSecret(rest, namespace, secretName);
    const pem = s?.data?.[PRIVATE_KEY_FIELD];
    return pem ? fromPem(Buffer.from(pem, 'base64').toString('utf8')) : undefined;
  };
  const existing = await read();
  if (existing) return existing;
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    await rest.create(secretsPath(namespace), {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: secretName,
        namespace,
        labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: COMPONENTS.recordSigningKey },
      },
      data: { [PRIVATE_KEY_FIELD]: Buffer.from(pem).toString('base64') },
    });
    return fromPem(pem);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const winner = await read();
    if (!winner)
      throw new Error(`Secret ${namespace}/${secretName} exists but holds no ${PRIVATE_KEY_FIELD}`);
    return winner;
  }
}

/** Publishes the public key for validators (create, or replace when it differs). */
export async function publishRecordKeys(
  rest: KubeRest,
  namespace: string,
  key: RecordSigningKey,
  name = RECORD_KEYS_CONFIGMAP,
): Promise<void> {
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: COMPONENTS.recordKeys },
      resourceVersion: undefined as string | undefined,
    },
    data: { [RECORD_KEYS_KEY]: recordKeySetJson([key.publicKey]) },
  };
  let existing: { metadata: { resourceVersion?: string }; data?: Record<string, string> } | undefined;
  try {
    existing = await rest.get(resourcePath(CONFIGMAPS, namespace, name));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!existing) {
    try {
      await rest.create(resourcePath(CONFIGMAPS, namespace), body);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return;
  }
  if (existing.data?.[RECORD_KEYS_KEY] === body.data[RECORD_KEYS_KEY]) return;
  body.metadata.resourceVersion = existing.metadata.resourceVersion;
  await rest.replace(resourcePath(CONFIGMAPS, namespace, name), body);
}
