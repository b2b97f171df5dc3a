/* Every key in one table: who it is, what it may do, how much of its limits it uses now, and what can be done to it. */
import { formatTime, formatUsd } from '../../format';
import type { KeyRow } from './key-draft';

// an expiry is chosen as a UTC day, so it is shown as one
const dayFormat = new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: 'short', year: 'numeric', timeZone: 'UTC' });
const formatDay = (iso: string) => dayFormat.format(new Date(iso));
import { LimitBars } from './limit-bars';

export type KeyAction = 'edit' | 'rotate' | 'revoke';

function KeyState({ k }: { k: KeyRow }) {
  if (k.revokedAt) return <span class="badge bad" title={`Revoked ${formatTime(k.revokedAt)}`}>Revoked</span>;
  if (k.expiresAt && new Date(k.expiresAt).getTime() <= Date.now()) return <span class="badge warn">Expired</span>;
  return <span class="badge ok">Active</span>;
}

function Models({ models }: { models: readonly string[] | null }) {
  if (models == null) return <span class="muted">All</span>;
  if (models.length === 0) return <span class="muted">None</span>;
  return (
    <ul class="plain-list">
      {models.map((m) => (
        <li key={m} class="mono">
          {m}
        </li>
      ))}
    </ul>
  );
}

export function KeysTable({ keys, onAction }: { keys: KeyRow[]; onAction(action: KeyAction, key: KeyRow): void }) {
  return (
    <div class="table-wrap">
      <table class="cards-on-phone keys-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Scopes</th>
            <th>Models</th>
            <th>State</th>
            <th class="num">Cost (month)</th>
            <th>Limits used now</th>
            <th>
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id} data-key-name={k.name}>
              <td class="title-cell">
                <div class="key-name">{k.name}</div>
                <div class="mono muted small">{k.prefix}…</div>
                {k.team ? <div class="muted small key-team">team {k.team.name}</div> : null}
              </td>
              <td data-label="Scopes">
                {k.scopes.map((s) => (
                  <span key={s} class="badge scope">
                    {s}
                  </span>
                ))}
              </td>
              <td data-label="Models">
                <Models models={k.allowedModels} />
              </td>
              <td data-label="State" class="state-cell">
                <div>
                  <KeyState k={k} />
                </div>
                <div class="muted small">{k.expiresAt ? `expires ${formatDay(k.expiresAt)}` : 'never expires'}</div>
                <div class="muted small">{k.lastUsedAt ? `last used ${formatTime(k.lastUsedAt)}` : 'never used'}</div>
              </td>
              <td data-label="Cost this month" class="num">{formatUsd(k.monthToDate.costUsd)}</td>
              <td data-label="Limits used now" class="bars-cell block-on-phone">
                <LimitBars keyRow={k} />
              </td>
              <td class="row-actions">
                {k.revokedAt ? null : (
                  <div>
                    <button type="button" aria-label={`Edit ${k.name}`} onClick={() => onAction('edit', k)}>
                      Edit
                    </button>
                    <button type="button" aria-label={`Rotate ${k.name}`} onClick={() => onAction('rotate', k)}>
                      Rotate
                    </button>
                    <button type="button" class="danger" aria-label={`Revoke ${k.name}`} onClick={() => onAction('revoke', k)}>
                      Revoke
                    </button>
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
