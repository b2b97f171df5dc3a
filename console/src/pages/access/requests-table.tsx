/* Model access requests: which team asked for which model and why, where each stands, and (ADMIN) the decisions. */
import { formatTime } from '../../format';
import type { ResultOf } from '../../graphql';
import type { AccessRequestFields } from './documents';

export type AccessRequest = ResultOf<typeof AccessRequestFields>;
export type Decision = 'approve' | 'reject';

const TONE = { PENDING: 'warn', APPROVED: 'ok', REJECTED: 'bad' } as const;

export function RequestsTable({ requests, onDecide }: { requests: AccessRequest[]; onDecide?(decision: Decision, request: AccessRequest): void }) {
  return (
    <div class="table-wrap">
      <table class="cards-on-phone access-table">
        <thead>
          <tr>
            <th>Model</th>
            <th>Team</th>
            <th>Reason</th>
            <th>Status</th>
            <th>Decision note</th>
            <th>Changed</th>
            {onDecide ? (
              <th>
                <span class="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {requests.map((r) => (
            <tr key={r.id} data-request={`${r.team.name}/${r.model}`}>
              <td class="title-cell mono">{r.model}</td>
              <td data-label="Team">{r.team.name}</td>
              <td data-label="Reason" class="block-on-phone reason">
                {r.reason}
              </td>
              <td data-label="Status">
                <span class={`badge ${TONE[r.status]}`} data-testid="access-status">
                  {r.status}
                </span>
              </td>
              <td data-label="Decision note" class="reason">
                {r.decisionNote ?? <span class="muted">–</span>}
              </td>
              <td data-label="Changed" class="nowrap small">
                {formatTime(r.updatedAt)}
              </td>
              {onDecide ? (
                <td class="row-actions">
                  <div>
                    {r.status !== 'APPROVED' ? (
                      <button type="button" class="primary" aria-label={`Approve ${r.model} for ${r.team.name}`} onClick={() => onDecide('approve', r)}>
                        Approve
                      </button>
                    ) : null}
                    {r.status !== 'REJECTED' ? (
                      <button type="button" class="danger" aria-label={`Reject ${r.model} for ${r.team.name}`} onClick={() => onDecide('reject', r)}>
                        Reject
                      </button>
                    ) : null}
                  </div>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
