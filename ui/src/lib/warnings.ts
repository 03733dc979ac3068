// Connection warnings (the engine's `ConnectionWarning`), said from the one
// set of `warning.` messages wherever an account or a mailbox is shown: on a
// saved one the engine lists them; on a form being filled in they are worked
// out here, by the engine's rule, before anything is saved.
import type { ConnectionWarning } from './bindings/ConnectionWarning';
import { t } from './i18n/index.svelte';

/** The warning's sentence in the window's language. */
export function describeWarning(warning: ConnectionWarning): string {
  return t(`warning.${warning}`);
}

/**
 * What `ConnectionWarning::for_connection` (smtp/account.rs) will say of a
 * connection being set up: unencrypted to anything but this machine, and
 * certificates accepted unchecked.
 */
export function formWarnings(security: string, host: string, acceptInvalidCerts: boolean): ConnectionWarning[] {
  const warnings: ConnectionWarning[] = [];
  if (security === 'none' && !isLoopback(host.trim())) warnings.push('no_encryption');
  if (acceptInvalidCerts) warnings.push('certificates_not_checked');
  return warnings;
}

/** `localhost` or a loopback address (127.0.0.0/8, ::1), as the engine's `is_loopback` reads a host. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(host);
}
