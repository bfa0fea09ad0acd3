import { API_VERSION, APIKEY_RESOURCE, POLICY_NAME, POLICY_RESOURCE } from '../api/index.ts';
import { type EffectivePolicy, effectivePolicy } from '../api/policy.ts';
import { RevealError, revealKey } from '../client/reveal.ts';
import { KubeError, type KubeRest, resourcePath } from '../kube/rest.ts';
import type { ConsoleKey } from './view.ts';
import { fieldOfRefusal } from './view.ts';

// Every Kubernetes call the console makes, each with the user's own credentials (their kubeconfig): RBAC,
// the webhook and GitOps apply exactly as with kubectl. The console never holds a key: it passes the
// one reveal through to the page.

const apiKeyPath = (ns?: string, name?: string) => resourcePath(APIKEY_RESOURCE, ns, name);

/** What the page shows when the API server (or the webhook behind it) says no. */
export interface Refusal {
  status: number;
  reason: string;
  message: string;
  /** The spec field the refusal names, e.g. spec.expiresAt. */
  field?: string;
}

export function refusalOf(err: unknown): Refusal {
  if (err instanceof KubeError) {
    const body = err.body as { message?: string; details?: { causes?: { field?: string }[] } } | undefined;
    const message = body?.message ?? err.message;
    const field = fieldOfRefusal(message, body?.details?.causes);
    return { status: err.status, reason: err.reason, message, ...(field ? { field } : {}) };
  }
  if (err instanceof RevealError) return { status: 409, reason: 'Conflict', message: err.message };
  return { status: 502, reason: 'Unavailable', message: (err as Error).message };
}

/** The cluster's ApiKeyPolicy as the user may read it; the built-in defaults when there is none. */
export async function readPolicy(rest: KubeRest): Promise<{ policy: EffectivePolicy; note?: string }> {
  try {
    const obj = await rest.get<{ spec?: EffectivePolicy }>(
      resourcePath(POLICY_RESOURCE, undefined, POLICY_NAME),
    );
    return { policy: effectivePolicy(obj.spec as never) };
  } catch (err) {
    if (err instanceof KubeError && err.status === 404) return { policy: effectivePolicy(undefined) };
    return {
      policy: effectivePolicy(undefined),
      note: `The ApiKeyPolicy could not be read (${refusalOf(err).message}); built-in defaults are shown, the webhook applies the real one.`,
    };
  }
}

export function createKey(rest: KubeRest, ns: string, name: string, spec: unknown): Promise<ConsoleKey> {
  return rest.create<ConsoleKey>(apiKeyPath(ns), {
    apiVersion: API_VERSION,
    kind: 'ApiKey',
    metadata: { name, namespace: ns },
    spec,
  });
}

/** A merge patch of the spec, guarded by the resourceVersion the page saw: no silent overwrite. */
export function patchSpec(
  rest: KubeRest,
  ns: string,
  name: string,
  resourceVersion: string | undefined,
  spec: Record<string, unknown>,
): Promise<ConsoleKey> {
  return rest.patch<ConsoleKey>(
    apiKeyPath(ns, name),
    { metadata: resourceVersion ? { resourceVersion } : {}, spec },
    'merge',
  );
}

export async function regenerate(
  rest: KubeRest,
  ns: string,
  name: string,
  gracePeriod: string | undefined,
): Promise<{ key: ConsoleKey; generation: number }> {
  const ak = await rest.get<ConsoleKey>(apiKeyPath(ns, name));
  const generation = (ak.spec.rotation?.generation ?? 0) + 1;
  const rotation: Record<string, unknown> = { ...ak.spec.rotation, generation };
  // A regeneration without grace must not inherit the last one's.
  rotation.gracePeriod = gracePeriod ? gracePeriod : null;
  const key = await patchSpec(rest, ns, name, ak.metadata.resourceVersion, { rotation });
  return { key, generation };
}

export function deleteKey(rest: KubeRest, ns: string, name: string): Promise<unknown> {
  return rest.delete(apiKeyPath(ns, name));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the controller has minted the key's current generation and staged its one-time copy, then
 * reveals it through the CLI's reveal (the one reveal path). The plaintext is returned to be sent to the
 * page once and is never kept.
 */
export async function revealWhenReady(
  rest: KubeRest,
  ns: string,
  name: string,
  timeoutMs = 30_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ak = await rest.get<ConsoleKey>(apiKeyPath(ns, name));
    const wanted = ak.spec.rotation?.generation ?? 0;
    const s = ak.status;
    const staged = s?.keyId && (s.rotationGeneration ?? 0) === wanted && s.delivery?.state === 'Pending';
    if (staged) {
      try {
        return await revealKey(rest, ns, name, { timeoutMs: Math.max(1_000, deadline - Date.now()) });
      } catch (err) {
        if (!(err instanceof RevealError && err.code === 'still_minting')) throw err;
      }
    } else if (
      s?.state === 'Failed' ||
      (s?.delivery?.state && s.delivery.state !== 'Pending' && s.rotationGeneration === wanted)
    ) {
      throw new RevealError(
        'already_revealed',
        s?.state === 'Failed'
          ? `ApiKey ${ns}/${name} failed: see its Ready condition.`
          : `The key of ApiKey ${ns}/${name} was already revealed (delivery ${s?.delivery?.state}). Regenerate it to get a new one.`,
      );
    }
    if (Date.now() > deadline)
      throw new RevealError(
        'no_answer',
        `ApiKey ${ns}/${name} was not minted within ${timeoutMs / 1000}s; is the controller running?`,
      );
    await sleep(200);
  }
}
