import { useState } from 'preact/hooks';
import type { EffectivePolicy } from '../../api/policy.ts';
import { type ConsoleKey, keyState } from '../view.ts';
import { call, keyPath, RefusedError } from './api.ts';
import { AuditLog } from './audit-log.tsx';
import type { DialogState } from './dialogs.tsx';
import { MainTab, PermissionsTab } from './key-details.tsx';

// The selected key: Main and Permissions panels (every spec and status field), its request log, and the
// actions. A refused action (RBAC, the webhook) is shown here as the API server worded it.

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
  if (!k) return <MissingKey id={props.id} onClose={props.onClose} />;
  const ns = k.metadata.namespace;
  const name = k.metadata.name;
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
      <KeyActions k={k} busy={busy} act={act} onDialog={props.onDialog} />
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
          <MainTab k={k} />
        </sl-tab-panel>
        <sl-tab-panel name="permissions">
          <PermissionsTab k={k} policy={props.policy} />
        </sl-tab-panel>
        <sl-tab-panel name="requests">
          <AuditLog available={props.auditAvailable} namespace={ns} name={name} />
        </sl-tab-panel>
      </sl-tab-group>
    </section>
  );
}

function MissingKey(props: { id: string; onClose: () => void }) {
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
}

/** Enable or Disable, Edit, Regenerate, Delete. */
function KeyActions(props: {
  k: ConsoleKey;
  busy: boolean;
  act: (work: () => Promise<unknown>) => Promise<void>;
  onDialog: (d: DialogState) => void;
}) {
  const { k, busy, act, onDialog } = props;
  const path = keyPath(k.metadata.namespace, k.metadata.name);
  // Disable and Enable are idempotent: no resourceVersion guard, so a status write by the controller
  // in the same instant does not turn a click into a conflict.
  const setDisabled = (disabled: boolean) => act(() => call('PATCH', path, { spec: { disabled } }));
  const expired = keyState(k) === 'Expired';
  return (
    <div class="actions" role="toolbar" aria-label="Key actions">
      {k.spec.disabled === true || expired ? (
        <sl-button
          disabled={busy}
          onClick={() => (expired ? onDialog({ kind: 'enable', key: k }) : setDisabled(false))}
        >
          Enable
        </sl-button>
      ) : (
        <sl-button disabled={busy} onClick={() => setDisabled(true)}>
          Disable
        </sl-button>
      )}
      <sl-button disabled={busy} onClick={() => onDialog({ kind: 'edit', key: k })}>
        Edit
      </sl-button>
      <sl-button disabled={busy} onClick={() => onDialog({ kind: 'regenerate', key: k })}>
        Regenerate
      </sl-button>
      <sl-button
        variant="danger"
        outline
        disabled={busy}
        onClick={() => onDialog({ kind: 'delete', key: k })}
      >
        Delete
      </sl-button>
    </div>
  );
}
