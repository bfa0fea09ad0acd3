import { type ConsoleKey, type Filters, STATES } from '../view.ts';

// The filter panel on the left: environment, type, state, namespace, customer, expiring within N days.

export function FilterPanel(props: { filters: Filters; onChange: (f: Filters) => void; keys: ConsoleKey[] }) {
  const { filters: f, onChange } = props;
  const namespaces = [...new Set(props.keys.map((k) => k.metadata.namespace))].sort();
  const customers = [...new Set(props.keys.flatMap((k) => k.spec.customers ?? []))].sort();
  const set = (patch: Partial<Filters>) => onChange({ ...f, ...patch });
  const pick = (field: keyof Filters) => (e: Event) =>
    set({ [field]: (e.target as HTMLSelectElement).value || undefined });
  return (
    <aside class="filters" aria-label="Filters">
      <h2>Filters</h2>
      <sl-select
        label="Environment"
        name="filter-environment"
        data-field="filter-environment"
        value={f.environment ?? ''}
        clearable
        onsl-change={pick('environment')}
      >
        <sl-option value="production">production</sl-option>
        <sl-option value="staging">staging</sl-option>
        <sl-option value="development">development</sl-option>
      </sl-select>
      <sl-select
        label="Type"
        name="filter-type"
        data-field="filter-type"
        value={f.type ?? ''}
        clearable
        onsl-change={pick('type')}
      >
        <sl-option value="public">public</sl-option>
        <sl-option value="private">private</sl-option>
      </sl-select>
      <sl-select
        label="State"
        name="filter-state"
        data-field="filter-state"
        value={f.state ?? ''}
        clearable
        onsl-change={pick('state')}
      >
        {STATES.map((s) => (
          <sl-option key={s} value={s}>
            {s}
          </sl-option>
        ))}
      </sl-select>
      <sl-select
        label="Namespace"
        name="filter-namespace"
        data-field="filter-namespace"
        value={f.namespace ?? ''}
        clearable
        onsl-change={pick('namespace')}
      >
        {namespaces.map((n) => (
          <sl-option key={n} value={n}>
            {n}
          </sl-option>
        ))}
      </sl-select>
      <sl-select
        label="Customer"
        name="filter-customer"
        data-field="filter-customer"
        value={f.customer ?? ''}
        clearable
        onsl-change={pick('customer')}
      >
        {customers.map((c) => (
          <sl-option key={c} value={c}>
            {c}
          </sl-option>
        ))}
      </sl-select>
      <sl-input
        type="number"
        min={1}
        label="Expiring within (days)"
        name="filter-expiring"
        data-field="filter-expiring"
        value={f.expiringWithinDays ? String(f.expiringWithinDays) : ''}
        onsl-input={(e: Event) => {
          const n = Number((e.target as HTMLInputElement).value);
          set({ expiringWithinDays: Number.isInteger(n) && n > 0 ? n : undefined });
        }}
      />
      <sl-button size="small" onClick={() => onChange({})}>
        Clear filters
      </sl-button>
    </aside>
  );
}
