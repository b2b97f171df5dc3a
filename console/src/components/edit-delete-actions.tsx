/* A table row's Edit and Delete buttons, named for the row (`Edit model gpt-4o`) so they read well to a screen reader. */
export function EditDeleteActions({ what, name, onEdit, onDelete }: { what: string; name: string; onEdit(): void; onDelete(): void }) {
  return (
    <td class="row-actions">
      <div>
        <button type="button" aria-label={`Edit ${what} ${name}`} onClick={onEdit}>
          Edit
        </button>
        <button type="button" class="danger" aria-label={`Delete ${what} ${name}`} onClick={onDelete}>
          Delete
        </button>
      </div>
    </td>
  );
}
