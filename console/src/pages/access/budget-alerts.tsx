/* Budget alerts, newest first, kept current by the budgetAlerts feed: whose budget, which threshold, spent of budget. */
import { ErrorNote } from '../../components/error-note';
import { formatTime, formatUsd } from '../../format';
import { readFragment, type ResultOf } from '../../graphql';
import { BudgetAlertFields, BudgetAlertsQuery, BudgetAlertsSubscription } from './documents';
import { useLiveList } from './use-live-list';

type BudgetAlert = ResultOf<typeof BudgetAlertFields>;

const subject = (a: BudgetAlert) => (a.subjectKind === 'TEAM' ? `team ${a.team?.name ?? '(not visible)'}` : `key ${a.apiKey?.name ?? '(not visible)'}`);

export function BudgetAlerts() {
  const { items, loaded, error } = useLiveList(
    BudgetAlertsQuery,
    BudgetAlertsSubscription,
    (d) => readFragment(BudgetAlertFields, d.budgetAlerts),
    (d) => readFragment(BudgetAlertFields, d.budgetAlerts),
    (a, b) => b.createdAt.localeCompare(a.createdAt),
  );
  return (
    <section class="catalogue-section" aria-label="Budget alerts">
      <header class="section-header">
        <h2>Budget alerts</h2>
      </header>
      <ErrorNote error={error} />
      {loaded && items.length === 0 ? <p class="muted">No budget alert yet: one is raised when a key or team crosses a share of its monthly budget.</p> : null}
      {items.length ? (
        <div class="table-wrap">
          <table class="cards-on-phone alerts-table">
            <thead>
              <tr>
                <th>Subject</th>
                <th>Month</th>
                <th class="num">Threshold</th>
                <th class="num">Spent / budget</th>
                <th>Raised</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id}>
                  <td class="title-cell">{subject(a)}</td>
                  <td data-label="Month">{a.period}</td>
                  <td data-label="Threshold" class="num">
                    {Math.round(a.threshold * 100)} %
                  </td>
                  <td data-label="Spent / budget" class="num nowrap">
                    {formatUsd(a.spentUsd)} / {formatUsd(a.budgetUsd)}
                  </td>
                  <td data-label="Raised" class="nowrap small">
                    {formatTime(a.createdAt)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
