// What the window remembers while it is open: the last import and how its
// file is read, shared by the screens (the Recipients screen fills it;
// Message, Campaign and Results read the campaign it made).
import { NO_IMPORT_CHOICES, type ImportChoices } from './api';
import type { ImportPreview } from './bindings/ImportPreview';
import type { ImportReport } from './bindings/ImportReport';

export type Screen = 'recipients' | 'smtp' | 'message' | 'campaign' | 'results' | 'mailbox' | 'suppression' | 'sandbox' | 'settings';

export const session = $state<{
  screen: Screen;
  /** The file on the Recipients screen, the choices made for it, and its preview. */
  importFile: string | null;
  importChoices: ImportChoices;
  importPreview: ImportPreview | null;
  /** The first preview, with nothing chosen: what Mailroom detected by itself. */
  importDetected: ImportPreview | null;
  lastImport: ImportReport | null;
  /** A file the operating system asked Mailroom to open (lib/launch.ts), for the Recipients screen. */
  openRequest: string | null;
  /** File ▸ Import… was chosen: the Recipients screen opens its file chooser. */
  chooseFileRequested: boolean;
  /** File ▸ Export failed… was chosen: the Results screen exports. */
  exportFailedRequested: boolean;
  /** Counts the databases chosen in Settings, so views of the old one refresh. */
  databaseChanged: number;
}>({
  screen: 'recipients',
  importFile: null,
  importChoices: NO_IMPORT_CHOICES,
  importPreview: null,
  importDetected: null,
  lastImport: null,
  openRequest: null,
  chooseFileRequested: false,
  exportFailedRequested: false,
  databaseChanged: 0,
});
