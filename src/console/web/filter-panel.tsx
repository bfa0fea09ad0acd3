import { type ConsoleKey, type Filters, STATES } from '../view.ts';
import { ENVIRONMENTS, InputField, SelectField } from './fields.tsx';

// The filter panel on the left: environment, type, state, namespace, customer, expiring within N days.

export function FilterPanel(props: { filters: Filters; onChange: (f: Filters) => void; keys: ConsoleKey[] }) {
  const { filters: f, onChange } = props;
  const namespaces = [...new Set(props.keys.map((k) => k.metadata.namespace))].sort();
  const customers = [...new Set(props.keys.flatMap((k) => k.spec.customers ?? []))].sort();
  const set = (patch: Partial<Filters>) => onChange({ ...f, ...patch });
  /** A clearable select of one filter: `filter-<field>`, empty when none is picked. */
  const pick = (
    field: 'environment' | 'type' | 'state' | 'namespace' | 'customer',
    label: string,
    options: readonly string[],
  ) => (
    <SelectField
      label={label}
      name={`filter-${field}`}
      value={f[field] ?? ''}
      clearable
      options={options}
      onValue={(value) => set({ [field]: value || undefined })}
    />
  );
  return (
    <aside class="filters" aria-label="Filters">
      <h2>Filters</h2>
      {pick('environment', 'Environment', ENVIRONMENTS)}
      {pick('type', 'Type', ['public', 'private'])}
      {pick('state', 'State', STATES)}
      {pick('namespace', 'Namespace', namespaces)}
      {pick('customer', 'Customer', customers)}
      <InputField
        type="number"
        min={1}
        label="Expiring within (days)"
        name="filter-expiring"
        value={f.expiringWithinDays ? String(f.expiringWithinDays) : ''}
        onValue={(value) => {
          const n = Number(value);
          set({ expiringWithinDays: Number.isInteger(n) && n > 0 ? n : undefined });
        }}
      />
      <sl-button size="small" onClick={() => onChange({})}>
        Clear filters
      </sl-button>
    </aside>
  );
}
