import { useMemo, useState } from 'preact/hooks';
import type { EffectivePolicy } from '../../api/policy.ts';
import { isCustomer } from '../../rules/customers.ts';
import { parseDuration } from '../../rules/duration.ts';
import { checkExpiry, defaultExpiry, formatRfc3339, latestAllowedExpiry } from '../../rules/expiry.ts';
import { isObjectName } from '../../rules/names.ts';
import { checkPermissions, parsePermission } from '../../rules/permissions.ts';
import { parseSource } from '../../rules/sources.ts';
import type { ConsoleKey } from '../view.ts';

// The Create Key and Edit Key form. Every check is a src/rules function (the webhook's own), run as the
// user types; the webhook still has the last word and its refusal is shown by the field it names.

export interface FormValues {
  namespace: string;
  name: string;
  description: string;
  environment: string;
  type: 'public' | 'private';
  permissions: string[];
  /** YYYY-MM-DD (UTC) from the date picker. */
  expiryDate: string;
  sources: string;
  rateRequests: string;
  ratePeriod: string;
  rateBurst: string;
  customers: string;
  /** On edit, the key's expiresAt: kept as it is while its day is not changed. */
  originalExpiresAt?: string | undefined;
}

const dateOf = (d: Date) => formatRfc3339(d).slice(0, 10);
const lines = (s: string) =>
  s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * The expiry for a picked day: that day at the current time of day (UTC); on the cap's own day, the cap
 * itself (so the last day offered is always accepted). A day past the cap stays past it, for the rules
 * to refuse with their message.
 */
export function expiryFromDate(day: string, now: Date, maxLifetimeDays: number): string {
  const at = new Date(`${day}T${formatRfc3339(now).slice(11)}`);
  if (Number.isNaN(at.getTime())) return day;
  const cap = latestAllowedExpiry(now, maxLifetimeDays);
  return formatRfc3339(day === dateOf(cap) && at.getTime() > cap.getTime() ? cap : at);
}

export function initialValues(policy: EffectivePolicy, namespace: string, key?: ConsoleKey): FormValues {
  const now = new Date();
  const expiry =
    key?.spec.expiresAt ??
    formatRfc3339(defaultExpiry(now, policy.defaultLifetimeDays, policy.maxLifetimeDays));
  return {
    namespace: key?.metadata.namespace ?? namespace,
    name: key?.metadata.name ?? '',
    description: key?.spec.description ?? '',
    environment: key?.spec.environment ?? 'staging',
    type: key?.spec.type ?? 'private',
    permissions: key?.spec.permissions ?? [],
    expiryDate: expiry.slice(0, 10),
    sources: (key?.spec.allowedSources ?? []).join('\n'),
    rateRequests: key?.spec.rateLimit ? String(key.spec.rateLimit.requests) : '',
    ratePeriod: key?.spec.rateLimit?.period ?? '1m',
    rateBurst: key?.spec.rateLimit?.burst ? String(key.spec.rateLimit.burst) : '',
    customers: (key?.spec.customers ?? []).join(', '),
    originalExpiresAt: key?.spec.expiresAt,
  };
}

const expiryUnchanged = (v: FormValues) =>
  v.originalExpiresAt !== undefined && v.originalExpiresAt.slice(0, 10) === v.expiryDate;

/** Messages by field (spec.x or metadata.x), from the shared rules. */
export function validate(
  v: FormValues,
  policy: EffectivePolicy,
  now: Date,
  creating: boolean,
): Record<string, string> {
  const errors: Record<string, string> = {};
  if (creating) {
    if (!isObjectName(v.namespace))
      errors['metadata.namespace'] = 'A namespace name: lower case letters, digits and -.';
    if (!isObjectName(v.name))
      errors['metadata.name'] = 'A name of lower case letters, digits, - and . (e.g. billing-api).';
  }
  if (v.description.length > 256) errors['spec.description'] = 'At most 256 characters.';
  const perms = checkPermissions(v.permissions, v.type, {
    permissions: policy.permissions,
    strict: policy.strictCatalogue,
  });
  if (perms.length) errors['spec.permissions'] = perms.join('\n');
  if (!expiryUnchanged(v)) {
    const expiry = checkExpiry(expiryFromDate(v.expiryDate, now, policy.maxLifetimeDays), now, {
      maxLifetimeDays: policy.maxLifetimeDays,
    });
    if (!expiry.ok) errors['spec.expiresAt'] = expiry.message;
  }
  const sourceErrors = lines(v.sources)
    .map((s) => parseSource(s))
    .flatMap((r) => (r.ok ? [] : [r.message]));
  if (sourceErrors.length) errors['spec.allowedSources'] = sourceErrors.join('\n');
  if (v.rateRequests) {
    const n = Number(v.rateRequests);
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
      errors['spec.rateLimit'] = 'Requests: a whole number from 1 to 1000000.';
    const p = parseDuration(v.ratePeriod);
    if (!p.ok) errors['spec.rateLimit'] = p.message;
    if (v.rateBurst && !(Number.isInteger(Number(v.rateBurst)) && Number(v.rateBurst) >= 1))
      errors['spec.rateLimit'] = 'Burst: a whole number, 1 or more.';
  }
  const badCustomers = lines(v.customers).filter((c) => !isCustomer(c));
  if (badCustomers.length)
    errors['spec.customers'] =
      `Not a customer id: ${badCustomers.join(', ')} (lower case letters, digits, . _ -).`;
  return errors;
}

/** The spec the form describes (on edit, only the fields the form edits; null removes a rate limit). */
export function specOf(
  v: FormValues,
  policy: EffectivePolicy,
  now: Date,
  creating: boolean,
): Record<string, unknown> {
  const rateLimit = v.rateRequests
    ? {
        requests: Number(v.rateRequests),
        period: v.ratePeriod,
        ...(v.rateBurst ? { burst: Number(v.rateBurst) } : {}),
      }
    : null;
  const spec: Record<string, unknown> = {
    description: v.description,
    permissions: v.permissions,
    expiresAt: expiryUnchanged(v)
      ? v.originalExpiresAt
      : expiryFromDate(v.expiryDate, now, policy.maxLifetimeDays),
    allowedSources: lines(v.sources),
    customers: lines(v.customers),
    rateLimit,
  };
  if (creating) {
    spec.environment = v.environment;
    spec.type = v.type;
    if (!rateLimit) delete spec.rateLimit;
  }
  return spec;
}

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return (
    <div id={id} class="field-error" role={message ? 'alert' : undefined}>
      {message ?? ''}
    </div>
  );
}

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
  const set = (patch: Partial<FormValues>) => onChange({ ...v, ...patch });
  const errors = useMemo(() => validate(v, policy, now, creating), [v, policy, now, creating]);
  // A rule's message shows as soon as the field has text; a server refusal until the field changes.
  const err = (field: string) =>
    serverErrors[field] ?? (props.showErrors || fieldTouched(v, field) ? errors[field] : undefined);
  const maxDate = dateOf(latestAllowedExpiry(now, policy.maxLifetimeDays));
  const catalogue = policy.permissions;
  const publicSafe = (name: string) =>
    checkPermissions([name], 'public', { permissions: catalogue }).length === 0;
  const extraPermissions = v.permissions.filter((p) => !catalogue.some((c) => c.name === p));

  return (
    <div class="key-form">
      {creating && (
        <div class="row2">
          <sl-input
            label="Namespace"
            name="namespace"
            data-field="namespace"
            value={v.namespace}
            required
            onsl-input={(e: Event) => set({ namespace: (e.target as HTMLInputElement).value })}
          />
          <sl-input
            label="Name"
            name="name"
            data-field="name"
            value={v.name}
            required
            onsl-input={(e: Event) => set({ name: (e.target as HTMLInputElement).value })}
          />
        </div>
      )}
      {creating && <FieldError id="err-namespace" message={err('metadata.namespace')} />}
      {creating && <FieldError id="err-name" message={err('metadata.name')} />}
      <sl-input
        label="Description"
        name="description"
        data-field="description"
        value={v.description}
        maxlength={256}
        onsl-input={(e: Event) => set({ description: (e.target as HTMLInputElement).value })}
      />
      <FieldError id="err-description" message={err('spec.description')} />
      {creating && (
        <div class="row2">
          <sl-select
            label="Environment"
            name="environment"
            data-field="environment"
            value={v.environment}
            onsl-change={(e: Event) => set({ environment: (e.target as HTMLSelectElement).value })}
          >
            <sl-option value="production">production</sl-option>
            <sl-option value="staging">staging</sl-option>
            <sl-option value="development">development</sl-option>
          </sl-select>
          <sl-select
            label="Type"
            name="type"
            data-field="type"
            value={v.type}
            help-text="A public key may hold only public-safe permissions."
            onsl-change={(e: Event) => {
              const type = (e.target as HTMLSelectElement).value as FormValues['type'];
              set({
                type,
                permissions: type === 'public' ? v.permissions.filter(publicSafe) : v.permissions,
              });
            }}
          >
            <sl-option value="private">private</sl-option>
            <sl-option value="public">public</sl-option>
          </sl-select>
        </div>
      )}
      <fieldset class="permissions" aria-describedby="err-permissions">
        <legend>Permissions</legend>
        {catalogue.length === 0 && (
          <p class="hint">The ApiKeyPolicy lists no catalogue; type permissions below.</p>
        )}
        {catalogue.map((c) => {
          const disabled = v.type === 'public' && !publicSafe(c.name);
          return (
            <sl-checkbox
              key={c.name}
              name="permission"
              data-permission={c.name}
              value={c.name}
              checked={v.permissions.includes(c.name)}
              disabled={disabled}
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
          );
        })}
        {!policy.strictCatalogue && (
          <sl-input
            label="Other permissions (comma-separated)"
            name="other-permissions"
            data-field="other-permissions"
            value={extraPermissions.join(', ')}
            onsl-change={(e: Event) => {
              const typed = lines((e.target as HTMLInputElement).value);
              set({
                permissions: [...v.permissions.filter((p) => catalogue.some((c) => c.name === p)), ...typed],
              });
            }}
            help-text={
              extraPermissions.filter((p) => !parsePermission(p).ok).length
                ? 'Use resource:action, e.g. devices:read.'
                : ''
            }
          />
        )}
      </fieldset>
      <FieldError id="err-permissions" message={err('spec.permissions')} />
      <sl-input
        type="date"
        label="Expires on (UTC)"
        name="expiresAt"
        data-field="expiresAt"
        value={v.expiryDate}
        min={dateOf(now)}
        max={maxDate}
        help-text={`At most ${maxDate}: the ${policy.maxLifetimeDays < 366 ? `${policy.maxLifetimeDays}-day policy limit` : 'one-year cap'}.`}
        onsl-input={(e: Event) => set({ expiryDate: (e.target as HTMLInputElement).value })}
        onsl-change={(e: Event) => set({ expiryDate: (e.target as HTMLInputElement).value })}
      />
      <FieldError id="err-expiresAt" message={err('spec.expiresAt')} />
      <sl-textarea
        label="Allowed sources (IP addresses or CIDRs, one per line; empty: anywhere)"
        name="allowedSources"
        data-field="allowedSources"
        rows={2}
        value={v.sources}
        onsl-input={(e: Event) => set({ sources: (e.target as HTMLTextAreaElement).value })}
      />
      <FieldError id="err-allowedSources" message={err('spec.allowedSources')} />
      <fieldset class="row3">
        <legend>Rate limit (empty: unlimited)</legend>
        <sl-input
          type="number"
          label="Requests"
          name="rateRequests"
          data-field="rateRequests"
          value={v.rateRequests}
          min={1}
          onsl-input={(e: Event) => set({ rateRequests: (e.target as HTMLInputElement).value })}
        />
        <sl-input
          label="Per (e.g. 1s, 1m, 1h)"
          name="ratePeriod"
          data-field="ratePeriod"
          value={v.ratePeriod}
          onsl-input={(e: Event) => set({ ratePeriod: (e.target as HTMLInputElement).value })}
        />
        <sl-input
          type="number"
          label="Burst"
          name="rateBurst"
          data-field="rateBurst"
          value={v.rateBurst}
          onsl-input={(e: Event) => set({ rateBurst: (e.target as HTMLInputElement).value })}
        />
      </fieldset>
      <FieldError id="err-rateLimit" message={err('spec.rateLimit')} />
      <sl-input
        label="Customers (comma-separated)"
        name="customers"
        data-field="customers"
        value={v.customers}
        onsl-input={(e: Event) => set({ customers: (e.target as HTMLInputElement).value })}
      />
      <FieldError id="err-customers" message={err('spec.customers')} />
      <FieldError id="err-other" message={serverErrors.other} />
    </div>
  );
}

function fieldTouched(v: FormValues, field: string): boolean {
  switch (field) {
    case 'spec.allowedSources':
      return v.sources !== '';
    case 'spec.customers':
      return v.customers !== '';
    case 'metadata.name':
      return v.name !== '';
    default:
      return true;
  }
}
