// Where a suppressed address came from, in the window's language (the engine
// sends it as data: `SuppressionSource`). Shared by the Suppression and
// Mailbox screens.
import type { SuppressionSource } from './bindings/SuppressionSource';
import { t } from './i18n/index.svelte';

export function describeSource(source: SuppressionSource): string {
  switch (source.kind) {
    case 'no_such_user':
      return t('suppression.sourceSend');
    case 'bounce':
      return t('suppression.sourceBounce', { account: source.account });
    case 'unsubscribe':
      return t('suppression.sourceUnsubscribe', { account: source.account });
    case 'manual':
      return t('suppression.sourceManual');
    case 'imported':
      return t('suppression.sourceImported', { file: source.file });
  }
}
