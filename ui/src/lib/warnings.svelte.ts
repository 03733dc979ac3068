// Connection warnings (the engine's `ConnectionWarning`), said from the one
// set of `warning.` messages wherever an account or a mailbox is shown: on a
// saved one the engine lists them; on a form being filled in the engine is
// asked as the fields change (`ConnectionWarning::for_connection`), so the
// rule lives in one place.
import { api } from './api';
import type { ConnectionWarning } from './bindings/ConnectionWarning';
import type { Security } from './bindings/Security';
import { t } from './i18n/index.svelte';

/** The warning's sentence in the window's language. */
export function describeWarning(warning: ConnectionWarning): string {
  return t(`warning.${warning}`);
}

/** The fields of a form the warnings depend on. */
interface ConnectionFields {
  security: Security;
  host: string;
  accept_invalid_certs: boolean;
}

/**
 * The warnings for the connection a form describes, asked of the engine
 * whenever `fields()` changes (none while there is no form). Made while a
 * component initialises: it lives as long as the component.
 */
export class FormWarnings {
  list = $state<ConnectionWarning[]>([]);

  constructor(fields: () => ConnectionFields | null) {
    $effect(() => {
      const form = fields();
      if (!form) {
        this.list = [];
        return;
      }
      const { security, host, accept_invalid_certs } = form;
      // An answer to an older question must not replace a newer one.
      let current = true;
      api
        .connectionWarnings(security, host, accept_invalid_certs)
        .then((warnings) => {
          if (current) this.list = warnings;
        })
        .catch(() => {
          // Warnings are advice: a failed question leaves the last answer.
        });
      return () => {
        current = false;
      };
    });
  }
}
