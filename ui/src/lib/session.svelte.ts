// What the window remembers while it is open: the last import, shared by the
// screens (the Recipients screen fills it; Campaign and Results read it).
import type { ImportReport } from './bindings/ImportReport';

export type Screen = 'recipients' | 'smtp' | 'message' | 'campaign' | 'results' | 'sandbox';

export const session = $state<{ screen: Screen; lastImport: ImportReport | null }>({
  screen: 'recipients',
  lastImport: null,
});
