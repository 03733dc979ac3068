// The OS's open and save dialogs, one at a time. A second click on "Choose
// file…" while a dialog is up (the WebView still takes clicks behind a
// native dialog on some desktops) would open a second one; here it does
// nothing and answers null, as if the person had cancelled it.
import {
  open as openDialog,
  save as saveDialog,
  type OpenDialogOptions,
  type OpenDialogReturn,
  type SaveDialogOptions,
} from '@tauri-apps/plugin-dialog';

let showing = false;

async function oneAtATime<R>(show: () => Promise<R>): Promise<R | null> {
  if (showing) return null;
  showing = true;
  try {
    return await show();
  } finally {
    showing = false;
  }
}

/** The open dialog, unless one is already showing (then null). */
export function open<T extends OpenDialogOptions>(options: T): Promise<OpenDialogReturn<T> | null> {
  return oneAtATime(() => openDialog(options));
}

/** The save dialog, unless one is already showing (then null). */
export function save(options: SaveDialogOptions): Promise<string | null> {
  return oneAtATime(() => saveDialog(options));
}
