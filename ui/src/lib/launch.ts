// Files the operating system asks Mailroom to open ("Open with Mailroom", a
// double-click on a .csv, a file given to a second launch, macOS's open-file
// event) are kept by the shell (src-tauri/src/launch.rs) until taken here;
// each goes to the Recipients screen, which previews it like a chosen file.
import { listen } from '@tauri-apps/api/event';
import { api } from './api';
import { session } from './session.svelte';

async function takeOpenedFile() {
  let path: string | null;
  try {
    path = await api.takeOpenedFile();
  } catch {
    return; // nothing to open: the window starts as usual
  }
  if (path === null) return;
  session.screen = 'recipients';
  session.openRequest = path;
}

/** Opens the file given at launch, and each one announced later ("open-file"). */
export async function followOpenedFiles() {
  // Listening first: a file announced while the first one is being taken is not missed.
  await listen('open-file', () => void takeOpenedFile());
  await takeOpenedFile();
}
