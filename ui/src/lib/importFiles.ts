// Which files the window offers to import: the engine says which extensions
// it reads (`import::accepted_extensions`), so the file chooser's filter and
// the choice among dropped files follow it instead of a list of their own.
import { api } from './api';
import { t } from './i18n/index.svelte';

let asked: Promise<string[]> | null = null;

/** The accepted extensions, asked of the engine once (again after a failure). */
export function importExtensions(): Promise<string[]> {
  asked ??= api.importExtensions().catch((e: unknown) => {
    asked = null;
    throw e;
  });
  return asked;
}

/** The open dialog's filter for a recipient or suppression file. */
export async function importFilters(): Promise<{ name: string; extensions: string[] }[]> {
  return [{ name: t('recipients.filterName'), extensions: await importExtensions() }];
}

/**
 * Of several dropped files, the first whose extension is accepted; else the
 * first, which the import reads as text or refuses with its reason.
 */
export async function importablePath(paths: string[]): Promise<string | undefined> {
  const extensions = await importExtensions();
  const accepted = paths.find((path) => {
    const name = path.split(/[\\/]/).pop() ?? path;
    const dot = name.lastIndexOf('.');
    return dot > 0 && extensions.includes(name.slice(dot + 1).toLowerCase());
  });
  return accepted ?? paths[0];
}
