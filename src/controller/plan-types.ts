import type { RecordSigningKey } from '../api/hash-record.ts';
import type { ApiKey, ApiKeyStatus } from '../api/index.ts';
import type { RevealRequest } from '../api/reveal.ts';
import type { EventSpec } from '../kube/events.ts';
import type { SecretObject, StagedKey } from './delivery.ts';

// What a plan reads (the observed ApiKey and its Secrets, the policy) and what it says (the writes, in
// order, and when to come back), plus the draft its steps fill in.

export type LiveApiKey = ApiKey & {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
};

/** Why a mint could not stage its copy: the condition reason and the message the status shows. */
export interface StageRefused {
  reason: 'InvalidRecipient' | 'DataKeyConflict';
  message: string;
}

export interface Observed {
  apiKey: LiveApiKey;
  /** The hash Secret of the ApiKey's name, whoever made it. */
  hashSecret?: SecretObject;
  /** The delivery (staging) Secret of the ApiKey's name in the operator namespace. */
  delivery?: SecretObject;
  /** Deletion only: the Secret named by spec.delivery.secretRef. */
  consumer?: SecretObject;
  /** The staged key in memory: just minted, or opened from its at-rest copy. Never written anywhere. */
  plaintext?: string;
  /** An `open` was done: a plaintext still missing is lost. */
  opened?: boolean;
  /** The staged key sealed to the pending reveal request's one-time key. */
  revealJwe?: string;
  /** Why no key could be staged: spec.delivery.recipient unusable, or the namespace's data-key Secret taken. */
  stageRefused?: StageRefused;
  /** Why the secretRef Secret was not written (it exists and is not ours). */
  consumerRefused?: string;
}

export interface Policy {
  operatorNamespace: string;
  /** Signs every hash record, so validators can tell ours from one a Secret writer made up. */
  recordSigningKey: RecordSigningKey;
  /** ExpiringSoon window from the ApiKeyPolicy. */
  expiringSoonMs: number;
  /** ApiKeyPolicy consumerSecretNamespaces (undefined: not restricted beyond the reserved namespaces). */
  consumerSecretNamespaces: readonly string[] | undefined;
}

/** I/O the plan needs done before it can say what to write; the Reconciler does it and plans again. */
export type Need =
  /** A delivery copy left by a deleted ApiKey of the same name: never handed out, deleted first. */
  | { kind: 'drop'; secret: SecretObject }
  /** Mint a key for this generation and write its delivery Secret (replacing `existing`): the first write of a mint. */
  | { kind: 'stage'; generation: number; keyId?: string; existing?: SecretObject }
  /** Open the staged copy (its data key is read). */
  | { kind: 'open'; staged: StagedKey }
  /** Seal the staged key to a reveal request's one-time public key. */
  | { kind: 'seal'; plaintext: string; request: RevealRequest };

export interface PlannedEvent extends EventSpec {
  /** Also a lifecycle event in the audit trail (with this key id and actor). */
  audit: boolean;
  keyId?: string;
  actor?: string;
}

export interface Plan {
  need?: Need;
  /** Add our finalizer: before any Secret is written, so deletion always cleans up. */
  addFinalizer: boolean;
  /** Labels to set on the ApiKey (only those that differ). */
  labels?: Record<string, string>;
  /** The label patch and status apply carry this resourceVersion as a precondition (a reveal answer). */
  lockVersion?: string;
  /** Deleted before the status says so; a copy already gone or changed means plan again. */
  deleteBefore: SecretObject[];
  /** The secretRef Secret to create, or replace when it is ours. */
  consumer?: SecretObject;
  /** The hash Secret to write: replaces `existing` (its resourceVersion as precondition), else created. */
  hash?: { body: SecretObject; existing?: SecretObject };
  /** The whole status to apply; undefined when it would not change. */
  status?: ApiKeyStatus;
  /** Deleted after the status is written (uid and resourceVersion preconditions; gone already is fine). */
  deleteAfter: SecretObject[];
  /** Deletion: Secrets made for this ApiKey, deleted with a uid precondition. */
  revoke: SecretObject[];
  events: PlannedEvent[];
  removeFinalizer: boolean;
  requeueAfterMs?: number;
}

export const emptyPlan = (): Plan => ({
  addFinalizer: false,
  deleteBefore: [],
  deleteAfter: [],
  revoke: [],
  events: [],
  removeFinalizer: false,
});

/** True when applying the plan would make no API call. */
export function isEmptyPlan(p: Plan): boolean {
  return (
    !p.need &&
    !p.addFinalizer &&
    !p.labels &&
    !p.consumer &&
    !p.hash &&
    !p.status &&
    !p.removeFinalizer &&
    p.deleteBefore.length + p.deleteAfter.length + p.revoke.length + p.events.length === 0
  );
}

/** What the steps of one plan share: the plan so far, the status being built and the wake-up time. */
export interface Draft {
  readonly obs: Observed;
  readonly ak: LiveApiKey;
  readonly policy: Policy;
  readonly now: Date;
  readonly p: Plan;
  readonly status: ApiKeyStatus;
  readonly events: PlannedEvent[];
  requeueAt: number;
}

/** Come back at `t` (if it is still ahead). */
export function wake(d: Draft, t: number): void {
  if (t > d.now.getTime()) d.requeueAt = Math.min(d.requeueAt, t);
}
