import { useState } from 'preact/hooks';
import type { EffectivePolicy } from '../../api/policy.ts';
import { type ConsoleKey, keyExpiry, keyState, keyType, rateLimitSummary } from '../view.ts';
import { call, keyPath, RefusedError } from './api.ts';
import { AuditLog } from './audit-log.tsx';
import type { DialogState } from './dialogs.tsx';

// The selected key: Main and Permissions panels (every spec and status field), its request log, and the
// actions. A refused action (RBAC, the webhook) is shown here as the API server worded it.

function Field(props: { label: string; children: preact.ComponentChildren }) {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children ?? '-'}</dd>
    </>
  );
}

export function KeyPanel(props: {
  id: string;
  apiKey: ConsoleKey | undefined;
  policy: EffectivePolicy;
  auditAvailable: boolean;
  onClose: () => void;
  onDialog: (d: DialogState) => void;
}) {
  const k = props.apiKey;
  const [refusal, setRefusal] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  if (!k)
    return (
      <section class="panel" aria-label="Key details">
        <p>
          ApiKey {props.id} is not in the list (deleted, or not visible to you).{' '}
          <sl-button size="small" onClick={props.onClose}>
            Close
          </sl-button>
        </p>
      </section>
    );
  const ns = k.metadata.namespace;
  const name = k.metadata.name;
  const s = k.status ?? {};
  const state = keyState(k);
  const act = async (work: () => Promise<unknown>) => {
    setRefusal(undefined);
    setBusy(true);
    try {
      await work();
    } catch (err) {
      const r = err instanceof RefusedError ? err.refusal : undefined;
      setRefusal(r ? `${r.status === 403 ? 'Forbidden: ' : ''}${r.message}` : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  // Disable and Enable are idempotent: no resourceVersion guard, so a status write by the controller
  // in the same instant does not turn a click into a conflict.
  const disabled = k.spec.disabled === true;
  const expired = state === 'Expired';
  const catalogue = new Map(props.policy.permissions.map((p) => [p.name, p]));

  return (
    <section class="panel" aria-label={`Key ${ns}/${name}`}>
      <header class="panel-head">
        <h2>
          {ns}/{name}
        </h2>
        <sl-button size="small" onClick={props.onClose}>
          Close
        </sl-button>
      </header>
      <div class="actions" role="toolbar" aria-label="Key actions">
        {disabled || expired ? (
          <sl-button
            disabled={busy}
            onClick={() =>
              expired
                ? props.onDialog({ kind: 'enable', key: k })
                : act(() =>
                    call('PATCH', keyPath(ns, name), {
                      spec: { disabled: false },
                    }),
                  )
            }
          >
            Enable
          </sl-button>
        ) : (
          <sl-button
            disabled={busy}
            onClick={() =>
              act(() =>
                call('PATCH', keyPath(ns, name), {
                  spec: { disabled: true },
                }),
              )
            }
          >
            Disable
          </sl-button>
        )}
        <sl-button disabled={busy} onClick={() => props.onDialog({ kind: 'edit', key: k })}>
          Edit
        </sl-button>
        <sl-button disabled={busy} onClick={() => props.onDialog({ kind: 'regenerate', key: k })}>
          Regenerate
        </sl-button>
        <sl-button
          variant="danger"
          outline
          disabled={busy}
          onClick={() => props.onDialog({ kind: 'delete', key: k })}
        >
          Delete
        </sl-button>
      </div>
      {refusal && (
        <sl-alert
          open
          variant="danger"
          class="refusal"
          closable
          onsl-after-hide={() => setRefusal(undefined)}
        >
          {refusal}
        </sl-alert>
      )}
      <sl-tab-group>
        <sl-tab slot="nav" panel="main">
          Main
        </sl-tab>
        <sl-tab slot="nav" panel="permissions">
          Permissions
        </sl-tab>
        <sl-tab slot="nav" panel="requests">
          Requests
        </sl-tab>
        <sl-tab-panel name="main">
          <dl class="fields">
            <Field label="State">{state}</Field>
            <Field label="Description">{k.spec.description}</Field>
            <Field label="Environment">{k.spec.environment}</Field>
            <Field label="Type">{keyType(k)}</Field>
            <Field label="Key id">{s.keyId && <code>{s.keyId}</code>}</Field>
            <Field label="Key hint">{s.keyHint && <code>{s.keyHint}</code>}</Field>
            <Field label="Disabled">{disabled ? 'yes' : 'no'}</Field>
            <Field label="Expires at">{keyExpiry(k)}</Field>
            <Field label="Issued at">{s.issuedAt}</Field>
            <Field label="Last used">{s.lastUsedAt ?? 'never'}</Field>
            <Field label="Customers">{(k.spec.customers ?? []).join(', ') || 'none'}</Field>
            <Field label="Rotation generation">
              {`${k.spec.rotation?.generation ?? 0} asked, ${s.rotationGeneration ?? 0} minted`}
            </Field>
            <Field label="Grace period">{k.spec.rotation?.gracePeriod ?? 'none'}</Field>
            <Field label="Previous secret valid until">{s.previousSecretValidUntil ?? '-'}</Field>
            <Field label="Delivery">
              {s.delivery?.state ?? '-'}
              {s.delivery?.state === 'Pending' && s.delivery.expiresAt
                ? ` (an unrevealed copy is destroyed at ${s.delivery.expiresAt})`
                : ''}
            </Field>
            <Field label="Created">{k.metadata.creationTimestamp}</Field>
          </dl>
          <p class="hint">
            The key itself is not here: keywarden keeps only its hash. To get a new one, use Regenerate (it is
            shown once).
          </p>
          <h3>Conditions</h3>
          <table class="conditions">
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Message</th>
                <th scope="col">Since</th>
              </tr>
            </thead>
            <tbody>
              {(s.conditions ?? []).map((c) => (
                <tr key={c.type}>
                  <td>{c.type}</td>
                  <td>{c.status}</td>
                  <td>{c.reason}</td>
                  <td>{c.message}</td>
                  <td>{c.lastTransitionTime}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </sl-tab-panel>
        <sl-tab-panel name="permissions">
          <h3>Permissions</h3>
          <ul class="perm-list">
            {(k.spec.permissions ?? []).length === 0 && <li>none</li>}
            {(k.spec.permissions ?? []).map((p) => (
              <li key={p}>
                <code>{p}</code>{' '}
                {catalogue.get(p)?.publicSafe && (
                  <sl-badge variant="success" pill>
                    public-safe
                  </sl-badge>
                )}{' '}
                <span class="hint">
                  {catalogue.get(p)?.description ?? (catalogue.size ? 'not in the catalogue' : '')}
                </span>
              </li>
            ))}
          </ul>
          <h3>Allowed sources</h3>
          <ul>
            {(k.spec.allowedSources ?? []).length === 0 && <li>anywhere</li>}
            {(k.spec.allowedSources ?? []).map((src) => (
              <li key={src}>
                <code>{src}</code>
              </li>
            ))}
          </ul>
          <h3>Rate limit</h3>
          <p>{rateLimitSummary(k)}</p>
        </sl-tab-panel>
        <sl-tab-panel name="requests">
          <AuditLog available={props.auditAvailable} namespace={ns} name={name} />
        </sl-tab-panel>
      </sl-tab-group>
    </section>
  );
}
