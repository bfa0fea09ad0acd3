import { useEffect, useState } from 'preact/hooks';
import type { AuditRow } from '../../audit/schema.ts';
import { call } from './api.ts';
import { InputField, SelectField } from './fields.tsx';
import { TableHead } from './table-head.tsx';

// The request log, from the audit trail (src/audit's queryEvents on the server): per key or overall,
// by time range, status and reason, a page at a time.

/** A row as /api/audit sends it (JSON: the time as text). */
type AuditRowView = Pick<
  AuditRow,
  | 'key_id'
  | 'api_key_namespace'
  | 'api_key_name'
  | 'method'
  | 'path'
  | 'status'
  | 'reason'
  | 'client_ip'
  | 'latency_ms'
> & { time: string };

const RANGES: Record<string, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};
const PAGE = 50;

type AuditAnswer = { rows?: AuditRowView[]; more?: boolean; message?: string };
type AuditQuery = {
  range: string;
  status: string;
  reason: string;
  offset: number;
  namespace?: string | undefined;
  name?: string | undefined;
};

export function AuditLog(props: { available: boolean; namespace?: string; name?: string }) {
  const [filter, setFilter] = useState({ range: '24h', status: '', reason: '' });
  const [offset, setOffset] = useState(0);
  const result = useAuditRows({ ...filter, offset, namespace: props.namespace, name: props.name });

  // A new filter starts again at the newest page (an old offset could point past the filtered rows).
  const changeFilter = (field: keyof typeof filter) => (value: string) => {
    setFilter((f) => ({ ...f, [field]: value }));
    setOffset(0);
  };
  /** A text filter, applied when it is committed (Enter or leaving the field). */
  const textFilter = (field: 'status' | 'reason', label: string) => (
    <InputField
      label={label}
      name={`audit-${field}`}
      value={filter[field]}
      on="change"
      onValue={changeFilter(field)}
    />
  );

  return (
    <section
      class="audit"
      aria-label={props.name ? `Requests of ${props.namespace}/${props.name}` : 'Request log'}
    >
      {!props.name && <h2>Request log</h2>}
      <div class="audit-filters">
        <SelectField
          label="Time range"
          name="audit-range"
          value={filter.range}
          onValue={changeFilter('range')}
        >
          {Object.keys(RANGES).map((r) => (
            <sl-option key={r} value={r}>
              last {r}
            </sl-option>
          ))}
        </SelectField>
        {textFilter('status', 'Status (e.g. 401,403)')}
        {textFilter('reason', 'Reason (e.g. key_expired)')}
      </div>
      {result?.message && (
        <sl-alert open variant={props.available ? 'danger' : 'primary'}>
          {result.message}
        </sl-alert>
      )}
      {result?.rows && (
        <>
          <AuditRows rows={result.rows} perKey={Boolean(props.name)} />
          <div class="pager">
            <sl-button
              size="small"
              disabled={offset === 0}
              onClick={() => setOffset(Math.max(0, offset - PAGE))}
            >
              Newer
            </sl-button>
            <sl-button size="small" disabled={!result.more} onClick={() => setOffset(offset + PAGE)}>
              Older
            </sl-button>
          </div>
        </>
      )}
    </section>
  );
}

/** The page of rows the query asks for, from /api/audit; undefined until the first answer. */
function useAuditRows(query: AuditQuery): AuditAnswer | undefined {
  const [result, setResult] = useState<AuditAnswer | undefined>();
  const { range, status, reason, offset, namespace, name } = query;
  useEffect(() => {
    let current = true;
    const q = new URLSearchParams({
      since: String(Date.now() - (RANGES[range] ?? RANGES['24h'] ?? 0)),
      limit: String(PAGE),
      offset: String(offset),
    });
    if (namespace) q.set('namespace', namespace);
    if (name) q.set('name', name);
    if (status) q.set('status', status);
    if (reason) q.set('reason', reason);
    call<AuditAnswer & { available: boolean }>('GET', `/api/audit?${q}`).then(
      (r) => current && setResult(r),
      (err: Error) => current && setResult({ message: err.message }),
    );
    // An answer to an older query that arrives after a newer one's must not overwrite it.
    return () => {
      current = false;
    };
  }, [range, status, reason, offset, namespace, name]);
  return result;
}

/** The rows; `perKey`: one key's log, so no Key column. */
function AuditRows({ rows, perKey }: { rows: AuditRowView[]; perKey: boolean }) {
  return (
    <table class="audit-rows">
      <TableHead columns={['Time', !perKey && 'Key', 'Request', 'Status', 'Reason', 'Client', 'Latency']} />
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td colSpan={7}>No requests in this range.</td>
          </tr>
        )}
        {rows.map((r, i) => (
          <tr key={`${r.time}-${i}`}>
            <td>{r.time}</td>
            {!perKey && (
              <td>{r.api_key_name ? `${r.api_key_namespace}/${r.api_key_name}` : (r.key_id ?? '-')}</td>
            )}
            <td>
              {r.method} {r.path}
            </td>
            <td>{r.status}</td>
            <td>{r.reason}</td>
            <td>{r.client_ip}</td>
            <td>{r.latency_ms !== null ? `${r.latency_ms.toFixed(1)} ms` : '-'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
