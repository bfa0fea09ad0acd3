import { useEffect, useState } from 'preact/hooks';
import { call } from './api.ts';

// The request log, from the audit trail (src/audit's queryEvents on the server): per key or overall,
// by time range, status and reason, a page at a time.

interface AuditRowView {
  time: string;
  key_id: string | null;
  api_key_namespace: string | null;
  api_key_name: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  reason: string | null;
  client_ip: string | null;
  latency_ms: number | null;
}

const RANGES: Record<string, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};
const PAGE = 50;

export function AuditLog(props: { available: boolean; namespace?: string; name?: string }) {
  const [range, setRange] = useState('24h');
  const [status, setStatus] = useState('');
  const [reason, setReason] = useState('');
  const [offset, setOffset] = useState(0);
  const [result, setResult] = useState<
    { rows?: AuditRowView[]; more?: boolean; message?: string } | undefined
  >();

  // A new filter starts again at the newest page (an old offset could point past the filtered rows).
  const changeFilter = (set: (v: string) => void, value: string) => {
    set(value);
    setOffset(0);
  };

  useEffect(() => {
    let current = true;
    const q = new URLSearchParams({
      since: String(Date.now() - (RANGES[range] ?? RANGES['24h'] ?? 0)),
      limit: String(PAGE),
      offset: String(offset),
    });
    if (props.namespace) q.set('namespace', props.namespace);
    if (props.name) q.set('name', props.name);
    if (status) q.set('status', status);
    if (reason) q.set('reason', reason);
    call<{ available: boolean; rows?: AuditRowView[]; more?: boolean; message?: string }>(
      'GET',
      `/api/audit?${q}`,
    ).then(
      (r) => current && setResult(r),
      (err: Error) => current && setResult({ message: err.message }),
    );
    // An answer to an older query that arrives after a newer one's must not overwrite it.
    return () => {
      current = false;
    };
  }, [range, status, reason, offset, props.namespace, props.name]);

  return (
    <section
      class="audit"
      aria-label={props.name ? `Requests of ${props.namespace}/${props.name}` : 'Request log'}
    >
      {!props.name && <h2>Request log</h2>}
      <div class="audit-filters">
        <sl-select
          label="Time range"
          name="audit-range"
          data-field="audit-range"
          value={range}
          onsl-change={(e: Event) => changeFilter(setRange, (e.target as HTMLSelectElement).value)}
        >
          {Object.keys(RANGES).map((r) => (
            <sl-option key={r} value={r}>
              last {r}
            </sl-option>
          ))}
        </sl-select>
        <sl-input
          label="Status (e.g. 401,403)"
          name="audit-status"
          data-field="audit-status"
          value={status}
          onsl-change={(e: Event) => changeFilter(setStatus, (e.target as HTMLInputElement).value)}
        />
        <sl-input
          label="Reason (e.g. key_expired)"
          name="audit-reason"
          data-field="audit-reason"
          value={reason}
          onsl-change={(e: Event) => changeFilter(setReason, (e.target as HTMLInputElement).value)}
        />
      </div>
      {result?.message && (
        <sl-alert open variant={props.available ? 'danger' : 'primary'}>
          {result.message}
        </sl-alert>
      )}
      {result?.rows && (
        <>
          <table class="audit-rows">
            <thead>
              <tr>
                <th scope="col">Time</th>
                {!props.name && <th scope="col">Key</th>}
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Client</th>
                <th scope="col">Latency</th>
              </tr>
            </thead>
            <tbody>
              {result.rows.length === 0 && (
                <tr>
                  <td colSpan={7}>No requests in this range.</td>
                </tr>
              )}
              {result.rows.map((r, i) => (
                <tr key={`${r.time}-${i}`}>
                  <td>{r.time}</td>
                  {!props.name && (
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
