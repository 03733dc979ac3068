// Deleting a campaign with a few seconds to undo. The window holds the
// deletion back and calls the engine only when the time is up: until then
// nothing is changed, so Undo is just not calling it, and a window closed or
// killed meanwhile leaves the campaign whole (never half-deleted; the engine
// deletes it in one transaction). Kept outside the Results screen so that
// leaving the screen does not cancel it.
import { api, type IpcError } from './api';

/** How long Undo is offered. */
export const UNDO_MS = 6000;

type Pending = { id: number; name: string; timer: ReturnType<typeof setTimeout> };

export const deletion = $state<{
  /** The deletion Undo can still cancel. */
  pending: Pending | null;
  /** Campaigns deleted (or waiting to be) in this window: not listed. */
  hidden: number[];
  /** Why the last deletion failed (a run started meanwhile, say); the campaign is listed again. */
  error: IpcError | null;
}>({ pending: null, hidden: [], error: null });

async function commit(pending: Pending) {
  if (deletion.pending?.id === pending.id) deletion.pending = null;
  try {
    await api.deleteCampaign(pending.id);
  } catch (e) {
    deletion.hidden = deletion.hidden.filter((id) => id !== pending.id);
    deletion.error = e as IpcError;
  }
}

/** Hides the campaign now and deletes it once Undo has passed; a deletion still waiting goes ahead first. */
export function deleteLater(id: number, name: string) {
  const earlier = deletion.pending;
  if (earlier) {
    clearTimeout(earlier.timer);
    void commit(earlier);
  }
  deletion.error = null;
  deletion.hidden = [...deletion.hidden, id];
  const pending: Pending = { id, name, timer: setTimeout(() => void commit(pending), UNDO_MS) };
  deletion.pending = pending;
}

/** Keeps the campaign: it was never changed. */
export function undoDelete() {
  const pending = deletion.pending;
  if (!pending) return;
  clearTimeout(pending.timer);
  deletion.pending = null;
  deletion.hidden = deletion.hidden.filter((id) => id !== pending.id);
}
