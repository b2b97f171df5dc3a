/*
 * Teams: ADMIN sees every team (limits, this month's cost against its budget, keys) and creates, edits and deletes
 * them; a TEAM_ADMIN key sees its own team only, read-only (the API answers `teams` so). A team's detail lists its keys.
 */
import { useMutation, useQuery } from '@urql/preact';
import { useEffect, useState } from 'preact/hooks';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorNote, errorText } from '../components/error-note';
import '../components/admin.css';
import { Modal } from '../components/modal';
import { Page } from '../components/page';
import { readFragment } from '../graphql';
import { useSession } from '../session';
import { CreateTeamMutation, DeleteTeamMutation, TeamFields, TeamModelsQuery, TeamsQuery, UpdateTeamMutation } from './teams/documents';
import { TeamDetail } from './teams/team-detail';
import { draftFromTeam, EMPTY_TEAM, toCreateTeamInput, toUpdateTeamInput, type TeamDraft, type TeamRow } from './teams/team-draft';
import { TeamForm } from './teams/team-form';
import { TeamsTable, type TeamAction } from './teams/teams-table';
import './keys.css';
import './models.css';
import './teams.css';

/** How often costs and keys are refreshed while the page is open */
const REFRESH_MS = 5000;

function useRefreshedTeams() {
  const [res, reexecute] = useQuery({ query: TeamsQuery });
  useEffect(() => {
    const timer = setInterval(() => reexecute({ requestPolicy: 'network-only' }), REFRESH_MS);
    return () => clearInterval(timer);
  }, [reexecute]);
  return {
    teams: [...readFragment(TeamFields, res.data?.teams ?? [])],
    loaded: res.data != null,
    error: res.error,
    refresh: () => reexecute({ requestPolicy: 'network-only' }),
  };
}

export function TeamsPage() {
  const admin = useSession().can('ADMIN');
  const { teams, loaded, error, refresh } = useRefreshedTeams();
  const [modelsRes] = useQuery({ query: TeamModelsQuery, pause: !admin });
  const [editing, setEditing] = useState<{ team?: TeamRow } | null>(null);
  const [deleting, setDeleting] = useState<TeamRow | null>(null);
  const [shownId, setShownId] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [created, create] = useMutation(CreateTeamMutation);
  const [updated, update] = useMutation(UpdateTeamMutation);
  const [deleted, remove] = useMutation(DeleteTeamMutation);
  const models = modelsRes.data?.models ?? [];
  // a team admin has one team: its detail is the page
  const shown = teams.find((t) => t.id === shownId) ?? (!admin && teams.length === 1 ? teams[0] : undefined);

  async function save(d: TeamDraft) {
    setActionError(null);
    const team = editing?.team;
    const r = team ? await update({ id: team.id, input: toUpdateTeamInput(d) }) : await create({ input: toCreateTeamInput(d) });
    if (r.error) return setActionError(errorText(r.error));
    setEditing(null);
    refresh();
  }

  async function confirmDelete() {
    if (!deleting) return;
    setActionError(null);
    const r = await remove({ id: deleting.id });
    if (r.error) return setActionError(errorText(r.error));
    if (shownId === deleting.id) setShownId(null);
    setDeleting(null);
    refresh();
  }

  function onAction(action: TeamAction, team: TeamRow) {
    setActionError(null);
    if (action === 'show') setShownId(team.id);
    else if (action === 'edit') setEditing({ team });
    else setDeleting(team);
  }

  return (
    <Page
      title="Teams"
      actions={
        admin ? (
          <button type="button" class="primary" disabled={!loaded} onClick={() => (setActionError(null), setEditing({}))}>
            New team
          </button>
        ) : null
      }
    >
      <ErrorNote error={error} />
      {!loaded && !error ? <p class="muted">Loading teams…</p> : null}
      {loaded && teams.length === 0 ? <p class="muted">{admin ? 'No teams yet. Create one with “New team”.' : 'This key belongs to no team.'}</p> : null}
      {teams.length > 0 ? <TeamsTable teams={teams} canManage={admin} onAction={onAction} /> : null}
      {shown ? <TeamDetail team={shown} onClose={admin ? () => setShownId(null) : undefined} /> : null}

      <Modal open={editing != null} title={editing?.team ? `Edit team “${editing.team.name}”` : 'New team'} onClose={() => setEditing(null)} busy={created.fetching || updated.fetching} wide>
        {editing ? (
          <TeamForm
            initial={editing.team ? draftFromTeam(editing.team) : EMPTY_TEAM}
            models={models}
            submitLabel={editing.team ? 'Save changes' : 'Create team'}
            busy={created.fetching || updated.fetching}
            error={actionError}
            onSubmit={save}
            onCancel={() => setEditing(null)}
          />
        ) : null}
      </Modal>
      <ConfirmDialog
        open={deleting != null}
        title={`Delete team “${deleting?.name ?? ''}”?`}
        confirmLabel="Delete team"
        danger
        busy={deleted.fetching}
        error={actionError}
        onConfirm={confirmDelete}
        onCancel={() => setDeleting(null)}
      >
        <p>The team and its limits are removed. The gateway refuses while the team still has keys that are not revoked, or prompts.</p>
      </ConfirmDialog>
    </Page>
  );
}
