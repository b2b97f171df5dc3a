/* One team: its description, limits, allowed models and its keys (name, prefix, scopes, revoked or active). */
import { formatCompact, formatInt, formatTime, formatUsd } from '../../format';
import type { TeamRow } from './team-draft';
import { BudgetBar } from './teams-table';

export function TeamDetail({ team, onClose }: { team: TeamRow; onClose?(): void }) {
  const l = team.limits;
  return (
    <section class="card team-detail" aria-label={`Team ${team.name}`}>
      <header class="section-header">
        <h2>{team.name}</h2>
        {onClose ? (
          <button type="button" onClick={onClose}>
            Close
          </button>
        ) : null}
      </header>
      {team.description ? <p class="description">{team.description}</p> : null}
      <dl class="team-limits">
        <dt>Requests a minute</dt>
        <dd>{l.requestsPerMinute == null ? 'no limit' : formatInt(l.requestsPerMinute)}</dd>
        <dt>Tokens a minute</dt>
        <dd>{l.tokensPerMinute == null ? 'no limit' : formatCompact(l.tokensPerMinute)}</dd>
        <dt>Tokens a day</dt>
        <dd>{l.tokensPerDay == null ? 'no limit' : formatCompact(l.tokensPerDay)}</dd>
        <dt>Monthly budget</dt>
        <dd>{l.monthlyBudgetUsd == null ? 'no limit' : formatUsd(l.monthlyBudgetUsd)}</dd>
        <dt>Models</dt>
        <dd class="mono">{team.allowedModels == null ? 'all' : team.allowedModels.length ? team.allowedModels.join(', ') : 'none'}</dd>
        <dt>This month</dt>
        <dd>
          {team.monthToDate ? `${formatInt(team.monthToDate.requests)} requests` : '—'}
          <BudgetBar team={team} />
        </dd>
      </dl>
      <h3>Keys</h3>
      {team.apiKeys.length === 0 ? (
        <p class="muted">No keys in this team yet. Create one on the Keys page and pick this team.</p>
      ) : (
        <div class="table-wrap">
          <table class="cards-on-phone team-keys">
            <thead>
              <tr>
                <th>Key</th>
                <th>Prefix</th>
                <th>Scopes</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {team.apiKeys.map((k) => (
                <tr key={k.id} data-key-name={k.name}>
                  <td class="title-cell">{k.name}</td>
                  <td data-label="Prefix" class="mono">
                    {k.prefix}…
                  </td>
                  <td data-label="Scopes">
                    {k.scopes.map((s) => (
                      <span key={s} class="badge scope">
                        {s}
                      </span>
                    ))}
                  </td>
                  <td data-label="State">
                    {k.revokedAt ? (
                      <span class="badge bad" title={`Revoked ${formatTime(k.revokedAt)}`}>
                        Revoked
                      </span>
                    ) : (
                      <span class="badge ok">Active</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
