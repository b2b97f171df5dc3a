/* Every team the key may see in one table: its limits, this month's cost against its budget, and its keys. */
import { formatCompact, formatInt, formatUsd } from '../../format';
import type { TeamRow } from './team-draft';

function Limits({ team }: { team: TeamRow }) {
  const { requestsPerMinute: rpm, tokensPerMinute: tpm, tokensPerDay: perDay } = team.limits;
  const parts = [rpm == null ? null : `${formatInt(rpm)} req/min`, tpm == null ? null : `${formatCompact(tpm)} tok/min`, perDay == null ? null : `${formatCompact(perDay)} tok/day`].filter(
    (p): p is string => p != null,
  );
  return parts.length ? <span class="small">{parts.join(' · ')}</span> : <span class="muted small">No limits</span>;
}

export function BudgetBar({ team }: { team: TeamRow }) {
  // null when this key may not read the team's spend (only ADMIN and the team's TEAM_ADMIN may)
  if (!team.monthToDate) return <span class="muted small">—</span>;
  const spent = team.monthToDate.costUsd;
  const budget = team.limits.monthlyBudgetUsd;
  if (budget == null) return <span class="small">{formatUsd(spent)} <span class="muted">(no budget)</span></span>;
  const share = budget > 0 ? Math.min(spent / budget, 1) : spent > 0 ? 1 : 0;
  const tone = share >= 0.9 ? 'bar bad' : share >= 0.7 ? 'bar warn' : 'bar';
  return (
    <div class="limit-bar">
      <div class="bar-label">
        <span class="mono">
          {formatUsd(spent)} / {formatUsd(budget)}
        </span>
      </div>
      <div
        class={tone}
        role="meter"
        aria-label={`Budget of ${team.name} used`}
        aria-valuemin={0}
        aria-valuemax={budget}
        aria-valuenow={spent}
        aria-valuetext={`${formatUsd(spent)} of ${formatUsd(budget)}`}
      >
        <div style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
    </div>
  );
}

export type TeamAction = 'show' | 'edit' | 'delete';

export function TeamsTable({ teams, canManage, onAction }: { teams: TeamRow[]; canManage: boolean; onAction(action: TeamAction, team: TeamRow): void }) {
  return (
    <div class="table-wrap">
      <table class="cards-on-phone teams-table">
        <thead>
          <tr>
            <th>Team</th>
            <th>Limits</th>
            <th>Cost this month</th>
            <th class="num">Keys</th>
            <th>
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {teams.map((t) => (
            <tr key={t.id} data-team={t.name}>
              <td class="title-cell">
                <div class="team-name">{t.name}</div>
                {t.description ? <div class="muted small description">{t.description}</div> : null}
              </td>
              <td data-label="Limits">
                <Limits team={t} />
              </td>
              <td data-label="Cost this month" class="bars-cell block-on-phone">
                <BudgetBar team={t} />
              </td>
              <td data-label="Keys" class="num">
                {formatInt(t.apiKeys.filter((k) => !k.revokedAt).length)}
              </td>
              <td class="row-actions">
                <div>
                  <button type="button" aria-label={`Show team ${t.name}`} onClick={() => onAction('show', t)}>
                    Details
                  </button>
                  {canManage ? (
                    <>
                      <button type="button" aria-label={`Edit team ${t.name}`} onClick={() => onAction('edit', t)}>
                        Edit
                      </button>
                      <button type="button" class="danger" aria-label={`Delete team ${t.name}`} onClick={() => onAction('delete', t)}>
                        Delete
                      </button>
                    </>
                  ) : null}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
