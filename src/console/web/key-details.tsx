import type { EffectivePolicy } from '../../api/policy.ts';
import { type ConsoleKey, keyExpiry, keyState, keyType, rateLimitSummary } from '../view.ts';
import { TableHead } from './table-head.tsx';

// The selected key's Main and Permissions tabs: every spec and status field, read-only.

function Detail(props: { label: string; children: preact.ComponentChildren }) {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children ?? '-'}</dd>
    </>
  );
}

export function MainTab({ k }: { k: ConsoleKey }) {
  const s = k.status ?? {};
  const disabled = k.spec.disabled === true;
  return (
    <>
      <dl class="fields">
        <Detail label="State">{keyState(k)}</Detail>
        <Detail label="Description">{k.spec.description}</Detail>
        <Detail label="Environment">{k.spec.environment}</Detail>
        <Detail label="Type">{keyType(k)}</Detail>
        <Detail label="Key id">{s.keyId && <code>{s.keyId}</code>}</Detail>
        <Detail label="Key hint">{s.keyHint && <code>{s.keyHint}</code>}</Detail>
        <Detail label="Disabled">{disabled ? 'yes' : 'no'}</Detail>
        <Detail label="Expires at">{keyExpiry(k)}</Detail>
        <Detail label="Issued at">{s.issuedAt}</Detail>
        <Detail label="Last used">{s.lastUsedAt ?? 'never'}</Detail>
        <Detail label="Customers">{(k.spec.customers ?? []).join(', ') || 'none'}</Detail>
        <Detail label="Rotation generation">
          {`${k.spec.rotation?.generation ?? 0} asked, ${s.rotationGeneration ?? 0} minted`}
        </Detail>
        <Detail label="Grace period">{k.spec.rotation?.gracePeriod ?? 'none'}</Detail>
        <Detail label="Previous secret valid until">{s.previousSecretValidUntil ?? '-'}</Detail>
        <Detail label="Delivery">
          {s.delivery?.state ?? '-'}
          {s.delivery?.state === 'Pending' && s.delivery.expiresAt
            ? ` (an unrevealed copy is destroyed at ${s.delivery.expiresAt})`
            : ''}
        </Detail>
        <Detail label="Created">{k.metadata.creationTimestamp}</Detail>
      </dl>
      <p class="hint">
        The key itself is not here: keywarden keeps only its hash. To get a new one, use Regenerate (it is
        shown once).
      </p>
      <h3>Conditions</h3>
      <table class="conditions">
        <TableHead columns={['Type', 'Status', 'Reason', 'Message', 'Since']} />
        <tbody>
          {(s.conditions ?? []).map((c) => (
            <tr key={c.type}>
              <td>{c.type}</td>
              <td>{c.status}</td>
              <td>{c.reason}</td>
              <td>{c.message}</td>
              <td>{c.lastTransitionTime}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function PermissionsTab({ k, policy }: { k: ConsoleKey; policy: EffectivePolicy }) {
  const catalogue = new Map(policy.permissions.map((p) => [p.name, p]));
  return (
    <>
      <h3>Permissions</h3>
      <ul class="perm-list">
        {(k.spec.permissions ?? []).length === 0 && <li>none</li>}
        {(k.spec.permissions ?? []).map((p) => (
          <li key={p}>
            <code>{p}</code>{' '}
            {catalogue.get(p)?.publicSafe && (
              <sl-badge variant="success" pill>
                public-safe
              </sl-badge>
            )}{' '}
            <span class="hint">
              {catalogue.get(p)?.description ?? (catalogue.size ? 'not in the catalogue' : '')}
            </span>
          </li>
        ))}
      </ul>
      <h3>Allowed sources</h3>
      <ul>
        {(k.spec.allowedSources ?? []).length === 0 && <li>anywhere</li>}
        {(k.spec.allowedSources ?? []).map((src) => (
          <li key={src}>
            <code>{src}</code>
          </li>
        ))}
      </ul>
      <h3>Rate limit</h3>
      <p>{rateLimitSummary(k)}</p>
    </>
  );
}
