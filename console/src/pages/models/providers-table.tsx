/* The providers: what they speak, where, whether a credential is stored (never which), and whether routing uses them. */
import { EditDeleteActions } from '../../components/edit-delete-actions';
import type { ProviderRow } from './provider-form';

/** The kind-specific settings as short "name value" pairs, e.g. "region us-east-1". */
function settingsText(s: ProviderRow['settings']): string | null {
  if (!s) return null;
  const parts = [
    s.region ? `region ${s.region}` : null,
    s.project ? `project ${s.project}` : null,
    s.apiVersion ? `api-version ${s.apiVersion}` : null,
    s.authScheme ? `auth ${s.authScheme === 'BEARER' ? 'bearer' : 'api-key'}` : null,
  ].filter((x) => x != null);
  return parts.length ? parts.join(' · ') : null;
}

export function ProvidersTable({ providers, onEdit, onDelete }: { providers: ProviderRow[]; onEdit(p: ProviderRow): void; onDelete(p: ProviderRow): void }) {
  return (
    <div class="table-wrap">
      <table class="cards-on-phone">
        <thead>
          <tr>
            <th>Name</th>
            <th>Kind</th>
            <th>Base URL</th>
            <th>API key</th>
            <th>Routing</th>
            <th>
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {providers.map((p) => (
            <tr key={p.id}>
              <td class="title-cell">{p.name}</td>
              <td data-label="Kind">
                <span class="badge">{p.kind}</span>
                {settingsText(p.settings) ? <div class="muted small mono">{settingsText(p.settings)}</div> : null}
              </td>
              <td data-label="Base URL" class="mono url-cell">
                {p.baseUrl ?? <span class="muted">public endpoint</span>}
              </td>
              <td data-label="API key">{p.hasCredential ? <span class="badge ok">stored</span> : <span class="muted">none</span>}</td>
              <td data-label="Routing">{p.enabled ? <span class="badge ok">enabled</span> : <span class="badge warn">disabled</span>}</td>
              <EditDeleteActions what="provider" name={p.name} onEdit={() => onEdit(p)} onDelete={() => onDelete(p)} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
