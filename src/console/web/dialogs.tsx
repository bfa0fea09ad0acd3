import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { durationMs, parseDuration } from '../../rules/duration.ts';
import { checkExpiry, formatRfc3339, latestAllowedExpiry } from '../../rules/expiry.ts';
import type { ConsoleKey } from '../view.ts';
import { call, keyPath, RefusedError } from './api.ts';
import type { Session } from './app.tsx';
import { InputField } from './fields.tsx';
import { KeyForm } from './key-form.tsx';
import { expiryFromDate, type FormValues, initialValues, specOf, validate } from './key-form-values.ts';
import { idOf } from './live.ts';

// The dialogs: Create, Edit, Enable (an expired key needs a new expiry), Regenerate (optional grace),
// Delete (names the key), and the one reveal. The plaintext lives only in this component's state while
// its dialog is open, and is dropped when it closes: never in the URL, storage or a log.

export type DialogState =
  | { kind: 'create' }
  | { kind: 'edit'; key: ConsoleKey }
  | { kind: 'enable'; key: ConsoleKey }
  | { kind: 'regenerate'; key: ConsoleKey }
  | { kind: 'delete'; key: ConsoleKey }
  | { kind: 'reveal'; id: string; key?: string; error?: string };

function errorsFrom(err: unknown): Record<string, string> {
  if (err instanceof RefusedError) {
    const r = err.refusal;
    const text = `${r.status === 403 && !/admission webhook/.test(r.message) ? 'Forbidden: ' : ''}${r.message}`;
    return { [r.field ?? 'other']: text };
  }
  return { other: (err as Error).message };
}

/** Asks the server to reveal the key once it is minted, and shows it in the reveal dialog. */
async function revealInto(id: string, onChange: (d: DialogState) => void): Promise<void> {
  onChange({ kind: 'reveal', id });
  const [ns = '', name = ''] = id.split('/');
  try {
    const { key } = await call<{ key: string }>('POST', `${keyPath(ns, name)}/reveal`);
    onChange({ kind: 'reveal', id, key });
  } catch (err) {
    onChange({ kind: 'reveal', id, error: (err as Error).message });
  }
}

export function Dialogs(props: {
  state: DialogState | undefined;
  session: Session;
  onClose: () => void;
  onChange: (d: DialogState) => void;
  onCreated: (id: string) => void;
}) {
  const s = props.state;
  if (!s) return null;
  switch (s.kind) {
    case 'create':
    case 'edit':
      return <FormDialog {...props} state={s} />;
    case 'enable':
      return <EnableDialog {...props} apiKey={s.key} />;
    case 'regenerate':
      return <RegenerateDialog {...props} apiKey={s.key} />;
    case 'delete':
      return <DeleteDialog {...props} apiKey={s.key} />;
    case 'reveal':
      return <RevealDialog state={s} onClose={props.onClose} />;
  }
}

/** sl-dialog closes itself on Escape; keep our state in step. */
const onHide = (close: () => void) => (e: Event) => {
  if (e.target === e.currentTarget) close();
};

function FormDialog(props: {
  state: { kind: 'create' } | { kind: 'edit'; key: ConsoleKey };
  session: Session;
  onClose: () => void;
  onChange: (d: DialogState) => void;
  onCreated: (id: string) => void;
}) {
  const creating = props.state.kind === 'create';
  const editKey = props.state.kind === 'edit' ? props.state.key : undefined;
  const policy = props.session.policy;
  const [values, setValues] = useState<FormValues>(() =>
    initialValues(policy, props.session.namespace ?? 'default', editKey),
  );
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [showErrors, setShowErrors] = useState(false);
  const [busy, setBusy] = useState(false);
  const change = (v: FormValues) => {
    setValues(v);
    setServerErrors({});
  };
  const submit = async () => {
    const now = new Date();
    setShowErrors(true);
    if (Object.keys(validate(values, policy, now, creating)).length > 0) return;
    setBusy(true);
    try {
      const spec = specOf(values, policy, now, creating);
      if (editKey) {
        await call('PATCH', keyPath(editKey.metadata.namespace, editKey.metadata.name), {
          resourceVersion: editKey.metadata.resourceVersion,
          spec,
        });
        props.onClose();
      } else {
        const created = await call<ConsoleKey>('POST', '/api/keys', {
          namespace: values.namespace,
          name: values.name,
          spec,
        });
        props.onCreated(idOf(created));
        await revealInto(idOf(created), props.onChange);
      }
    } catch (err) {
      setServerErrors(errorsFrom(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <sl-dialog
      open
      label={creating ? 'Create key' : `Edit ${editKey?.metadata.namespace}/${editKey?.metadata.name}`}
      class="form-dialog"
      onsl-after-hide={onHide(props.onClose)}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <KeyForm
          policy={policy}
          values={values}
          onChange={change}
          creating={creating}
          serverErrors={serverErrors}
          showErrors={showErrors}
        />
      </form>
      <sl-button slot="footer" onClick={props.onClose}>
        Cancel
      </sl-button>
      <sl-button slot="footer" variant="primary" loading={busy} onClick={() => void submit()}>
        {creating ? 'Create' : 'Save'}
      </sl-button>
    </sl-dialog>
  );
}

/**
 * A dialog that does one thing to one key: its content, the refusal (or the `blocked` reason that
 * keeps the action from running), Cancel and the action's button. `content` gets the submit function
 * (for a field that submits on Enter).
 */
function ActionDialog(props: {
  label: string;
  action: string;
  variant: 'primary' | 'danger';
  blocked?: string | undefined;
  run: () => Promise<void>;
  onClose: () => void;
  content: (submit: () => void) => ComponentChildren;
}) {
  const [error, setError] = useState<string | undefined>();
  const submit = async () => {
    if (props.blocked) return;
    try {
      await props.run();
    } catch (err) {
      setError(Object.values(errorsFrom(err))[0]);
    }
  };
  return (
    <sl-dialog open label={props.label} onsl-after-hide={onHide(props.onClose)}>
      {props.content(() => void submit())}
      <div class="field-error" role="alert">
        {error ?? props.blocked ?? ''}
      </div>
      <sl-button slot="footer" onClick={props.onClose}>
        Cancel
      </sl-button>
      <sl-button slot="footer" variant={props.variant} onClick={() => void submit()}>
        {props.action}
      </sl-button>
    </sl-dialog>
  );
}

function EnableDialog(props: { apiKey: ConsoleKey; session: Session; onClose: () => void }) {
  const k = props.apiKey;
  const policy = props.session.policy;
  const [now] = useState(() => new Date());
  const max = formatRfc3339(latestAllowedExpiry(now, policy.maxLifetimeDays)).slice(0, 10);
  const [day, setDay] = useState(max);
  const expiresAt = expiryFromDate(day, now, policy.maxLifetimeDays);
  const check = checkExpiry(expiresAt, now, { maxLifetimeDays: policy.maxLifetimeDays });
  return (
    <ActionDialog
      label={`Enable ${idOf(k)}`}
      action="Enable"
      variant="primary"
      blocked={check.ok ? undefined : check.message}
      run={async () => {
        await call('PATCH', keyPath(k.metadata.namespace, k.metadata.name), {
          resourceVersion: k.metadata.resourceVersion,
          spec: { disabled: false, expiresAt },
        });
        props.onClose();
      }}
      onClose={props.onClose}
      content={() => (
        <>
          <p>This key has expired. Enabling it needs a new expiry within the cap.</p>
          <InputField
            type="date"
            label="New expiry (UTC)"
            name="enable-expiresAt"
            value={day}
            max={max}
            onValue={setDay}
          />
        </>
      )}
    />
  );
}

function RegenerateDialog(props: {
  apiKey: ConsoleKey;
  session: Session;
  onClose: () => void;
  onChange: (d: DialogState) => void;
}) {
  const k = props.apiKey;
  const [grace, setGrace] = useState('');
  const maxGrace = props.session.policy.maxGracePeriod;
  const parsed = grace ? parseDuration(grace) : undefined;
  const problem =
    parsed && !parsed.ok
      ? parsed.message
      : parsed?.ok && parsed.ms > durationMs(maxGrace)
        ? `At most ${maxGrace} (the ApiKeyPolicy's maxGracePeriod).`
        : undefined;
  return (
    <ActionDialog
      label={`Regenerate ${idOf(k)}`}
      action="Regenerate"
      variant="primary"
      blocked={problem}
      run={async () => {
        await call('POST', `${keyPath(k.metadata.namespace, k.metadata.name)}/regenerate`, {
          gracePeriod: grace || undefined,
        });
        await revealInto(idOf(k), props.onChange);
      }}
      onClose={props.onClose}
      content={(submit) => (
        <>
          <p>A new secret is minted with the same key id and settings, and shown to you once.</p>
          <InputField
            label="Grace period for the old secret (e.g. 1h; empty: it stops at once)"
            name="gracePeriod"
            value={grace}
            onValue={setGrace}
            onKeyDown={(e: KeyboardEvent) => {
              if (e.key === 'Enter') submit();
            }}
          />
        </>
      )}
    />
  );
}

function DeleteDialog(props: { apiKey: ConsoleKey; onClose: () => void }) {
  const k = props.apiKey;
  const id = idOf(k);
  return (
    <ActionDialog
      label={`Delete ${id}?`}
      action={`Delete ${id}`}
      variant="danger"
      run={async () => {
        await call('DELETE', keyPath(k.metadata.namespace, k.metadata.name));
        props.onClose();
      }}
      onClose={props.onClose}
      content={() => (
        <p>
          The key <strong>{id}</strong> stops working at once (401 at every validator) and the ApiKey is
          removed. This cannot be undone.
        </p>
      )}
    />
  );
}

function RevealDialog(props: { state: { id: string; key?: string; error?: string }; onClose: () => void }) {
  const { id, key, error } = props.state;
  return (
    <sl-dialog open label={`The key of ${id}`} class="reveal" onsl-after-hide={onHide(props.onClose)}>
      {!key && !error && (
        <p>
          <sl-spinner /> Waiting for the controller to mint the key…
        </p>
      )}
      {error && (
        <sl-alert open variant="danger">
          {error}
        </sl-alert>
      )}
      {key && (
        <>
          <sl-alert open variant="warning">
            Copy it now: <strong>you will not see this key again.</strong> keywarden keeps only its hash.
          </sl-alert>
          <p class="secret">
            <code class="plaintext">{key}</code>
            <sl-copy-button value={key} copy-label="Copy the key" success-label="Copied" />
          </p>
        </>
      )}
      <sl-button slot="footer" variant="primary" onClick={props.onClose}>
        {key ? 'I have copied it' : 'Close'}
      </sl-button>
    </sl-dialog>
  );
}
