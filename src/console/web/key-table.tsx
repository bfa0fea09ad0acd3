import {
  type ColumnDef,
  createTable,
  getCoreRowModel,
  getSortedRowModel,
  type Header,
  type SortingState,
} from '@tanstack/table-core';
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { EffectivePolicy } from '../../api/policy.ts';
import { durationMs } from '../../rules/duration.ts';
import {
  type ConsoleKey,
  expiringSoon,
  type Filters,
  keyExpiry,
  keyState,
  keyType,
  matchesFilters,
  permissionsSummary,
  rateLimitSummary,
  relativeTime,
} from '../view.ts';
import { idOf } from './live.ts';

// The keys table: TanStack Table does the sorting (any column, both ways); the page draws the rows.

const time = (iso: string | undefined) => (iso ? Date.parse(iso) || 0 : 0);

interface Column {
  id: string;
  header: string;
  sortValue: (k: ConsoleKey) => string | number;
  cell: (k: ConsoleKey, now: Date, soon: boolean) => ComponentChildren;
}

const COLUMNS: Column[] = [
  {
    id: 'namespace',
    header: 'Namespace',
    sortValue: (k) => k.metadata.namespace,
    cell: (k) => k.metadata.namespace,
  },
  {
    id: 'name',
    header: 'Name',
    sortValue: (k) => k.metadata.name,
    cell: (k) => <strong>{k.metadata.name}</strong>,
  },
  {
    id: 'description',
    header: 'Description',
    sortValue: (k) => k.spec.description ?? '',
    cell: (k) => k.spec.description ?? '',
  },
  {
    id: 'environment',
    header: 'Environment',
    sortValue: (k) => k.spec.environment,
    cell: (k) => k.spec.environment,
  },
  { id: 'type', header: 'Type', sortValue: keyType, cell: keyType },
  {
    id: 'state',
    header: 'State',
    sortValue: keyState,
    cell: (k, _now, soon) => (
      <span class="state-cell">
        <sl-badge variant={STATE_VARIANT[keyState(k)] ?? 'neutral'} data-state={keyState(k)}>
          {keyState(k)}
        </sl-badge>
        {soon && (
          <sl-badge variant="warning" class="expiring-soon">
            Expiring soon
          </sl-badge>
        )}
      </span>
    ),
  },
  {
    id: 'permissions',
    header: 'Permissions',
    sortValue: (k) => permissionsSummary(k.spec.permissions),
    cell: (k) => (
      <span title={(k.spec.permissions ?? []).join(', ')}>{permissionsSummary(k.spec.permissions)}</span>
    ),
  },
  {
    id: 'rateLimit',
    header: 'Rate limit',
    // Sort by sustained rate: requests per millisecond, unlimited last.
    sortValue: (k) =>
      k.spec.rateLimit
        ? k.spec.rateLimit.requests / Math.max(1, safeMs(k.spec.rateLimit.period))
        : Number.MAX_VALUE,
    cell: rateLimitSummary,
  },
  {
    id: 'customers',
    header: 'Customers',
    sortValue: (k) => (k.spec.customers ?? []).join(','),
    cell: (k) => (k.spec.customers ?? []).join(', ') || '-',
  },
  {
    id: 'expires',
    header: 'Expires',
    sortValue: (k) => time(keyExpiry(k)),
    cell: (k, now) => <time dateTime={keyExpiry(k)}>{relativeTime(keyExpiry(k), now)}</time>,
  },
  {
    id: 'lastUsed',
    header: 'Last used',
    sortValue: (k) => time(k.status?.lastUsedAt),
    cell: (k, now) => (k.status?.lastUsedAt ? relativeTime(k.status.lastUsedAt, now) : 'never'),
  },
  {
    id: 'age',
    header: 'Age',
    sortValue: (k) => -time(k.metadata.creationTimestamp),
    cell: (k, now) => relativeTime(k.metadata.creationTimestamp, now).replace(/ ago$/, ''),
  },
];

function safeMs(period: string): number {
  try {
    return durationMs(period);
  } catch {
    return 1;
  }
}

const STATE_VARIANT: Record<string, string> = {
  Active: 'success',
  Inactive: 'neutral',
  Expired: 'danger',
  Pending: 'primary',
  Failed: 'danger',
};

const COLUMN_DEFS: ColumnDef<ConsoleKey, string | number>[] = COLUMNS.map((c) => ({
  id: c.id,
  accessorFn: c.sortValue,
  sortDescFirst: false,
}));

/** `name` / `-expires` in the URL. */
const sortFromParam = (s: string | undefined): SortingState =>
  s ? [{ id: s.replace(/^-/, ''), desc: s.startsWith('-') }] : [{ id: 'name', desc: false }];

export function KeyTable(props: {
  keys: ConsoleKey[];
  filters: Filters;
  policy: EffectivePolicy;
  selected: string | undefined;
  onSelect: (id: string | undefined) => void;
  sort: string | undefined;
  onSort: (s: string | undefined) => void;
}) {
  const now = useNow(30_000);
  const sorting = sortFromParam(props.sort);
  const data = props.keys.filter((k) => matchesFilters(k, props.filters, now));
  const table = createTable<ConsoleKey>({
    data,
    columns: COLUMN_DEFS,
    state: { sorting },
    onStateChange: () => {},
    onSortingChange: (updater) => {
      const next = typeof updater === 'function' ? updater(sorting) : updater;
      const first = next[0];
      props.onSort(first ? `${first.desc ? '-' : ''}${first.id}` : undefined);
    },
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    renderFallbackValue: null,
  });
  table.setOptions((prev) => ({ ...prev, state: { ...table.initialState, sorting } }));
  const rows = table.getRowModel().rows;

  return (
    <div class="table-wrap">
      <table class="keys" aria-label="API keys" aria-rowcount={rows.length}>
        <thead>
          <tr>
            <th scope="col">
              <span class="visually-hidden">Select</span>
            </th>
            {table.getFlatHeaders().map((h) => (
              <SortHeader key={h.id} header={h} />
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={COLUMNS.length + 1} class="empty">
                No ApiKeys match.
              </td>
            </tr>
          )}
          {rows.map((row) => (
            <KeyRow
              key={idOf(row.original)}
              k={row.original}
              now={now}
              soonDays={props.policy.expiringSoonDays}
              selected={props.selected === idOf(row.original)}
              onSelect={props.onSelect}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The time, renewed every `everyMs` (relative times and "expiring soon" move on). */
function useNow(everyMs: number): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

/** A column header: a button that sorts by it, with aria-sort saying how the table is sorted. */
function SortHeader({ header: h }: { header: Header<ConsoleKey, unknown> }) {
  const col = COLUMNS.find((c) => c.id === h.id);
  const dir = h.column.getIsSorted();
  return (
    <th scope="col" aria-sort={dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none'}>
      <button type="button" class="sort" onClick={h.column.getToggleSortingHandler()}>
        {col?.header}
        <span aria-hidden="true">{dir === 'asc' ? ' ▲' : dir === 'desc' ? ' ▼' : ''}</span>
      </button>
    </th>
  );
}

function KeyRow(props: {
  k: ConsoleKey;
  now: Date;
  soonDays: number;
  selected: boolean;
  onSelect: (id: string | undefined) => void;
}) {
  const { k, now, selected } = props;
  const id = idOf(k);
  const soon = expiringSoon(k, now, props.soonDays);
  return (
    <tr
      data-key={id}
      data-state={keyState(k)}
      class={`${k.spec.disabled === true || keyState(k) === 'Expired' ? 'dim' : ''} ${soon ? 'soon' : ''} ${selected ? 'selected' : ''}`}
    >
      <td>
        <input
          type="checkbox"
          aria-label={`Select ${id}`}
          checked={selected}
          onChange={(e) => props.onSelect((e.target as HTMLInputElement).checked ? id : undefined)}
        />
      </td>
      {COLUMNS.map((c) => (
        <td key={c.id} data-col={c.id}>
          {c.cell(k, now, soon)}
        </td>
      ))}
    </tr>
  );
}
