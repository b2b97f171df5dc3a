/* The models: lifecycle, routing, each target with its live health, fallbacks, prices and limits of the call. */
import { EditDeleteActions } from '../../components/edit-delete-actions';
import { formatInt, formatMs, formatUsd } from '../../format';
import type { ModelRow } from './model-draft';

const STATUS_TONE = { ACTIVE: 'ok', DEPRECATED: 'warn', RETIRED: 'bad' } as const;

function Targets({ model }: { model: ModelRow }) {
  return (
    <ul class="plain-list targets">
      {model.targets.map((t, i) => (
        <li key={i}>
          <span class="mono">
            {t.provider.name} / {t.upstreamModel}
          </span>{' '}
          <span class="muted small">
            p{t.priority} · w{t.weight}
          </span>{' '}
          {t.healthy ? <span class="badge ok">healthy</span> : <span class="badge bad" title="Cooling down after repeated failures">cooling down</span>}
        </li>
      ))}
    </ul>
  );
}

export function ModelsTable({ models, onEdit, onDelete }: { models: ModelRow[]; onEdit(m: ModelRow): void; onDelete(m: ModelRow): void }) {
  return (
    <div class="table-wrap">
      <table class="cards-on-phone models-table">
        <thead>
          <tr>
            <th>Model</th>
            <th>Status</th>
            <th>Targets</th>
            <th>Strategy</th>
            <th>Fallbacks</th>
            <th class="num">In / out per M tokens</th>
            <th class="num">Context</th>
            <th class="num">Timeout</th>
            <th>
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.id} data-model={m.name}>
              <td class="title-cell">
                <div class="mono strong">{m.name}</div>
                {m.requiresApproval ? <span class="badge warn">requires approval</span> : null}
                {m.description ? <div class="muted small description">{m.description}</div> : null}
              </td>
              <td data-label="Status">
                <span class={`badge ${STATUS_TONE[m.status]}`}>{m.status}</span>
              </td>
              <td data-label="Targets" class="block-on-phone">
                <Targets model={m} />
              </td>
              <td data-label="Strategy">{m.strategy}</td>
              <td data-label="Fallbacks" class="mono">
                {m.fallbacks.length ? m.fallbacks.join(', ') : <span class="muted">none</span>}
              </td>
              <td data-label="In / out per M tokens" class="num nowrap">
                {formatUsd(m.inputPricePerMTok ?? 0)} / {formatUsd(m.outputPricePerMTok ?? 0)}
                {m.priceSource === 'CATALOGUE' ? <div class="muted small">catalogue {m.priceCatalogueVersion}</div> : null}
                {m.priceSource === 'NONE' ? <div class="muted small">no price</div> : null}
              </td>
              <td data-label="Context" class="num">
                {m.contextWindow == null ? <span class="muted">–</span> : formatInt(m.contextWindow)}
              </td>
              <td data-label="Timeout" class="num">
                {m.timeoutMs == null ? <span class="muted">default</span> : formatMs(m.timeoutMs)}
              </td>
              <EditDeleteActions what="model" name={m.name} onEdit={() => onEdit(m)} onDelete={() => onDelete(m)} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
