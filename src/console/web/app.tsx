import '@shoelace-style/shoelace/dist/themes/light.css';
import '@shoelace-style/shoelace/dist/themes/dark.css';
import './app.css';
import '@shoelace-style/shoelace/dist/components/alert/alert.js';
import '@shoelace-style/shoelace/dist/components/badge/badge.js';
import '@shoelace-style/shoelace/dist/components/button/button.js';
import '@shoelace-style/shoelace/dist/components/checkbox/checkbox.js';
import '@shoelace-style/shoelace/dist/components/copy-button/copy-button.js';
import '@shoelace-style/shoelace/dist/components/dialog/dialog.js';
import '@shoelace-style/shoelace/dist/components/input/input.js';
import '@shoelace-style/shoelace/dist/components/option/option.js';
import '@shoelace-style/shoelace/dist/components/select/select.js';
import '@shoelace-style/shoelace/dist/components/spinner/spinner.js';
import '@shoelace-style/shoelace/dist/components/tab/tab.js';
import '@shoelace-style/shoelace/dist/components/tab-group/tab-group.js';
import '@shoelace-style/shoelace/dist/components/tab-panel/tab-panel.js';
import '@shoelace-style/shoelace/dist/components/textarea/textarea.js';
import { setBasePath } from '@shoelace-style/shoelace/dist/utilities/base-path.js';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { EffectivePolicy } from '../../api/policy.ts';
import { type Filters, filtersFromParams, filtersToParams } from '../view.ts';
import { call, setCsrfToken } from './api.ts';
import { AuditLog } from './audit-log.tsx';
import { type DialogState, Dialogs } from './dialogs.tsx';
import { FilterPanel } from './filter-panel.tsx';
import { KeyPanel } from './key-panel.tsx';
import { KeyTable } from './key-table.tsx';
import { useKeys } from './live.ts';

setBasePath('/shoelace');

// Light or dark, as the operating system says.
const dark = window.matchMedia('(prefers-color-scheme: dark)');
const applyTheme = () => document.documentElement.classList.toggle('sl-theme-dark', dark.matches);
applyTheme();
dark.addEventListener('change', applyTheme);

export interface Session {
  csrfToken: string;
  namespace: string | null;
  auditAvailable: boolean;
  policy: EffectivePolicy;
  note?: string;
}

/** The URL holds the filters, the sort, the selected key and the view: a view can be shared. */
function readUrl() {
  const p = new URLSearchParams(location.search);
  return {
    filters: filtersFromParams(p),
    selected: p.get('key') ?? undefined,
    sort: p.get('sort') ?? undefined,
    view: p.get('view') === 'log' ? ('log' as const) : ('keys' as const),
  };
}

function App() {
  const { session, fatal } = useSession();
  const initial = readUrl();
  const [filters, setFilters] = useState<Filters>(initial.filters);
  const [selected, setSelected] = useState<string | undefined>(initial.selected);
  const [sort, setSort] = useState<string | undefined>(initial.sort);
  const [view, setView] = useState<'keys' | 'log'>(initial.view);
  const [dialog, setDialog] = useState<DialogState | undefined>();
  const { keys, problem, connected } = useKeys();
  useUrl(filters, selected, sort, view);

  if (fatal)
    return (
      <sl-alert open variant="danger">
        {fatal}
      </sl-alert>
    );
  if (!session)
    return (
      <p class="loading">
        <sl-spinner /> Loading…
      </p>
    );
  const selectedKey = selected ? keys.get(selected) : undefined;

  return (
    <div class="layout">
      <TopBar
        view={view}
        onView={setView}
        search={filters.q ?? ''}
        onSearch={(q) => setFilters({ ...filters, q: q || undefined })}
        onCreate={() => setDialog({ kind: 'create' })}
        connected={connected}
      />
      <Alerts note={session.note} problem={problem} />
      <FilterPanel filters={filters} onChange={setFilters} keys={[...keys.values()]} />
      <main class="content">
        {view === 'keys' ? (
          <KeyTable
            keys={[...keys.values()]}
            filters={filters}
            policy={session.policy}
            selected={selected}
            onSelect={setSelected}
            sort={sort}
            onSort={setSort}
          />
        ) : (
          <AuditLog available={session.auditAvailable} />
        )}
      </main>
      {selected && view === 'keys' && (
        <KeyPanel
          id={selected}
          apiKey={selectedKey}
          policy={session.policy}
          auditAvailable={session.auditAvailable}
          onClose={() => setSelected(undefined)}
          onDialog={setDialog}
        />
      )}
      <Dialogs
        state={dialog}
        session={session}
        onClose={() => setDialog(undefined)}
        onChange={setDialog}
        onCreated={(id) => setSelected(id)}
      />
    </div>
  );
}

/** The session (CSRF token, policy, audit), or why it could not be had. */
function useSession(): { session: Session | undefined; fatal: string | undefined } {
  const [session, setSession] = useState<Session | undefined>();
  const [fatal, setFatal] = useState<string | undefined>();
  useEffect(() => {
    call<Session>('GET', '/api/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      (err: Error) => setFatal(err.message),
    );
  }, []);
  return { session, fatal };
}

/** Keeps the URL in step with the view (see readUrl). */
function useUrl(
  filters: Filters,
  selected: string | undefined,
  sort: string | undefined,
  view: 'keys' | 'log',
) {
  useEffect(() => {
    const p = filtersToParams(filters, new URLSearchParams());
    if (selected) p.set('key', selected);
    if (sort) p.set('sort', sort);
    if (view === 'log') p.set('view', 'log');
    const qs = p.toString();
    history.replaceState(null, '', qs ? `/?${qs}` : '/');
  }, [filters, selected, sort, view]);
}

/** The session's note (e.g. the ApiKeyPolicy could not be read) and the live list's problem, if any. */
function Alerts(props: { note: string | undefined; problem: string | undefined }) {
  return (
    <div class="alerts">
      {props.note && (
        <sl-alert open variant="warning">
          {props.note}
        </sl-alert>
      )}
      {props.problem && (
        <sl-alert open variant="danger" class="problem">
          {props.problem}
        </sl-alert>
      )}
    </div>
  );
}

/** The title, the Keys / Request log switch, the search box, Create key and the live indicator. */
function TopBar(props: {
  view: 'keys' | 'log';
  onView: (v: 'keys' | 'log') => void;
  search: string;
  onSearch: (q: string) => void;
  onCreate: () => void;
  connected: boolean;
}) {
  const { view, onView, connected } = props;
  return (
    <header class="top">
      <h1>API Keys</h1>
      <nav aria-label="Views" class="views">
        <sl-button variant={view === 'keys' ? 'primary' : 'default'} outline onClick={() => onView('keys')}>
          Keys
        </sl-button>
        <sl-button variant={view === 'log' ? 'primary' : 'default'} outline onClick={() => onView('log')}>
          Request log
        </sl-button>
      </nav>
      <sl-input
        class="search"
        type="search"
        label="Search"
        placeholder="name, key id, hint, description, source"
        value={props.search}
        clearable
        onsl-input={(e: Event) => props.onSearch((e.target as HTMLInputElement).value)}
      />
      <sl-button variant="primary" onClick={props.onCreate}>
        Create key
      </sl-button>
      <span class={`live ${connected ? 'on' : 'off'}`} role="status">
        {connected ? 'Live' : 'Reconnecting…'}
      </span>
    </header>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
