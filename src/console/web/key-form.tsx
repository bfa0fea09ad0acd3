import { useMemo, useState } from 'preact/hooks';
import type { EffectivePolicy } from '../../api/policy.ts';
import { latestAllowedExpiry } from '../../rules/expiry.ts';
import { checkPermissions, parsePermission } from '../../rules/permissions.ts';
import { ENVIRONMENTS, InputField, SelectField, TextareaField } from './fields.tsx';
import { dateOf, type FormValues, fieldTouched, lines, validate } from './key-form-values.ts';

// The Create Key and Edit Key form. Every check is a src/rules function (the webhook's own), run as the
// user types (key-form-values.ts); the webhook still has the last word and its refusal is shown by the
// field it names.

type SetValues = (patch: Partial<FormValues>) => void;
type Catalogue = EffectivePolicy['permissions'];

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return (
    <div id={id} class="field-error" role={message ? 'alert' : undefined}>
      {message ?? ''}
    </div>
  );
}

/** The form's text fields: the FormValues members a field edits as it is. */
type TextField =
  | 'namespace'
  | 'name'
  | 'description'
  | 'environment'
  | 'expiryDate'
  | 'sources'
  | 'rateRequests'
  | 'ratePeriod'
  | 'rateBurst'
  | 'customers';

/** A field's name (its data-field: the member's, unless given), value and change handler. */
const binder =
  (v: FormValues, set: SetValues) =>
  (member: TextField, name: string = member) => ({
    name,
    value: v[member],
    onValue: (value: string) => set({ [member]: value }),
  });

const isPublicSafe = (catalogue: Catalogue, name: string) =>
  checkPermissions([name], 'public', { permissions: catalogue }).length === 0;

export function KeyForm(props: {
  policy: EffectivePolicy;
  values: FormValues;
  onChange: (v: FormValues) => void;
  creating: boolean;
  /** Refusals from the server, by field. */
  serverErrors: Record<string, string>;
  showErrors: boolean;
}) {
  const { policy, values: v, onChange, creating, serverErrors } = props;
  const [now] = useState(() => new Date());
  const set: SetValues = (patch) => onChange({ ...v, ...patch });
  const field = binder(v, set);
  const errors = useMemo(() => validate(v, policy, now, creating), [v, policy, now, creating]);
  // A rule's message shows as soon as the field has text; a server refusal until the field changes.
  const err = (path: string) =>
    serverErrors[path] ?? (props.showErrors || fieldTouched(v, path) ? errors[path] : undefined);
  const maxDate = dateOf(latestAllowedExpiry(now, policy.maxLifetimeDays));

  return (
    <div class="key-form">
      {creating && <NameFields v={v} set={set} err={err} />}
      <InputField label="Description" {...field('description')} maxlength={256} />
      <FieldError id="err-description" message={err('spec.description')} />
      {creating && <KindFields v={v} set={set} catalogue={policy.permissions} />}
      <PermissionsField v={v} set={set} policy={policy} />
      <FieldError id="err-permissions" message={err('spec.permissions')} />
      <InputField
        type="date"
        label="Expires on (UTC)"
        {...field('expiryDate', 'expiresAt')}
        min={dateOf(now)}
        max={maxDate}
        help-text={`At most ${maxDate}: the ${policy.maxLifetimeDays < 366 ? `${policy.maxLifetimeDays}-day policy limit` : 'one-year cap'}.`}
        on="both"
      />
      <FieldError id="err-expiresAt" message={err('spec.expiresAt')} />
      <TextareaField
        label="Allowed sources (IP addresses or CIDRs, one per line; empty: anywhere)"
        {...field('sources', 'allowedSources')}
        rows={2}
      />
      <FieldError id="err-allowedSources" message={err('spec.allowedSources')} />
      <RateLimitFields v={v} set={set} />
      <FieldError id="err-rateLimit" message={err('spec.rateLimit')} />
      <InputField label="Customers (comma-separated)" {...field('customers')} />
      <FieldError id="err-customers" message={err('spec.customers')} />
      <FieldError id="err-other" message={serverErrors.other} />
    </div>
  );
}

/** Namespace and name: set once, on create. */
function NameFields(props: { v: FormValues; set: SetValues; err: (field: string) => string | undefined }) {
  const { v, set, err } = props;
  const field = binder(v, set);
  return (
    <>
      <div class="row2">
        <InputField label="Namespace" {...field('namespace')} required />
        <InputField label="Name" required {...field('name')} />
      </div>
      <FieldError id="err-namespace" message={err('metadata.namespace')} />
      <FieldError id="err-name" message={err('metadata.name')} />
    </>
  );
}

/** Environment and type: immutable, so on create only. A public key keeps only public-safe permissions. */
function KindFields(props: { v: FormValues; set: SetValues; catalogue: Catalogue }) {
  const { v, set, catalogue } = props;
  const field = binder(v, set);
  return (
    <div class="row2">
      <SelectField label="Environment" {...field('environment')} options={ENVIRONMENTS} />
      <SelectField
        label="Type"
        name="type"
        value={v.type}
        help-text="A public key may hold only public-safe permissions."
        options={['private', 'public']}
        onValue={(value) => {
          const type = value as FormValues['type'];
          set({
            type,
            permissions:
              type === 'public' ? v.permissions.filter((p) => isPublicSafe(catalogue, p)) : v.permissions,
          });
        }}
      />
    </div>
  );
}

/** The policy's catalogue as checkboxes, and (unless the catalogue is strict) other permissions typed. */
function PermissionsField(props: { v: FormValues; set: SetValues; policy: EffectivePolicy }) {
  const { v, set, policy } = props;
  const catalogue = policy.permissions;
  const inCatalogue = (p: string) => catalogue.some((c) => c.name === p);
  const extraPermissions = v.permissions.filter((p) => !inCatalogue(p));
  return (
    <fieldset class="permissions" aria-describedby="err-permissions">
      <legend>Permissions</legend>
      {catalogue.length === 0 && (
        <p class="hint">The ApiKeyPolicy lists no catalogue; type permissions below.</p>
      )}
      {catalogue.map((c) => (
        <sl-checkbox
          key={c.name}
          name="permission"
          data-permission={c.name}
          value={c.name}
          checked={v.permissions.includes(c.name)}
          disabled={v.type === 'public' && !isPublicSafe(catalogue, c.name)}
          onsl-change={(e: Event) => {
            const on = (e.target as HTMLInputElement).checked;
            set({
              permissions: on ? [...v.permissions, c.name] : v.permissions.filter((p) => p !== c.name),
            });
          }}
        >
          <code>{c.name}</code>{' '}
          {c.publicSafe ? (
            <sl-badge variant="success" pill>
              public-safe
            </sl-badge>
          ) : null}{' '}
          <span class="hint">{c.description ?? ''}</span>
        </sl-checkbox>
      ))}
      {!policy.strictCatalogue && (
        <InputField
          label="Other permissions (comma-separated)"
          name="other-permissions"
          value={extraPermissions.join(', ')}
          on="change"
          onValue={(value) => set({ permissions: [...v.permissions.filter(inCatalogue), ...lines(value)] })}
          help-text={
            extraPermissions.filter((p) => !parsePermission(p).ok).length
              ? 'Use resource:action, e.g. devices:read.'
              : ''
          }
        />
      )}
    </fieldset>
  );
}

function RateLimitFields(props: { v: FormValues; set: SetValues }) {
  const { v, set } = props;
  const field = binder(v, set);
  return (
    <fieldset class="row3">
      <legend>Rate limit (empty: unlimited)</legend>
      <InputField type="number" label="Requests" {...field('rateRequests')} min={1} />
      <InputField label="Per (e.g. 1s, 1m, 1h)" {...field('ratePeriod')} />
      <InputField type="number" label="Burst" {...field('rateBurst')} />
    </fieldset>
  );
}
