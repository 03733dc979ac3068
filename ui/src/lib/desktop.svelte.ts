// The desktop around the window: the person's settings as the engine keeps
// them (theme, language, log level), the native menus (labelled from the
// message catalog, rebuilt when the language or theme changes), and what
// their items do. Display and wiring only: saving, the menus themselves and
// the diagnostics report are the shell's and the engine's.
import { writeText } from '@tauri-apps/plugin-clipboard-manager';
import { api, type IpcError, type LogLevel, type Settings, type Theme } from './api';
import type { MenuLabels } from './bindings/MenuLabels';
import type { MenuLanguage } from './bindings/MenuLanguage';
import { i18n, isLocale, LEGACY_STORAGE_KEY, LOCALE_NAMES, LOCALES, t, type Locale } from './i18n/index.svelte';

export const prefs = $state<{ theme: Theme; logLevel: LogLevel }>({ theme: 'system', logLevel: 'info' });

/** Shows `theme`: "system" leaves it to the OS (CSS prefers-color-scheme). */
function applyTheme(theme: Theme) {
  prefs.theme = theme;
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

/**
 * Applies the saved settings before the first paint. A language chosen in an
 * earlier version (kept by the WebView then) is carried over into the file.
 */
export async function loadSettings() {
  let settings: Settings | null = null;
  try {
    settings = await api.getSettings();
  } catch (e) {
    console.warn('no saved settings:', (e as IpcError).message);
  }
  let language = settings?.language ?? null;
  const legacy = localStorage.getItem(LEGACY_STORAGE_KEY);
  if (language === null && isLocale(legacy)) {
    language = legacy;
    api.setLanguage(legacy).then(
      () => localStorage.removeItem(LEGACY_STORAGE_KEY),
      (e: IpcError) => console.warn('the language was not carried over:', e.message),
    );
  }
  i18n.use(isLocale(language) ? language : null);
  applyTheme(settings?.theme ?? 'system');
  prefs.logLevel = settings?.log_level ?? 'info';
}

/** Shows and saves a theme. */
export async function chooseTheme(theme: Theme) {
  applyTheme(theme);
  await api.setTheme(theme);
}

/** Shows and saves a language; null follows the OS again. */
export async function chooseLanguage(locale: Locale | null) {
  i18n.use(locale);
  await api.setLanguage(locale);
}

export async function chooseLogLevel(level: LogLevel) {
  prefs.logLevel = (await api.setLogLevel(level)).log_level;
}

/** Puts the diagnostics report on the clipboard. */
export async function copyDiagnostics() {
  const report = await api.diagnostics();
  try {
    await writeText(report);
  } catch (e) {
    throw { kind: 'internal', message: String(e) } satisfies IpcError;
  }
}

/** Every menu label, in the current language. */
export function menuLabels(): MenuLabels {
  return {
    file: t('menu.file'),
    import: t('menu.import'),
    export_failed: t('menu.exportFailed'),
    settings: t('menu.settings'),
    quit: t('menu.quit'),
    edit: t('menu.edit'),
    undo: t('menu.undo'),
    redo: t('menu.redo'),
    cut: t('menu.cut'),
    copy: t('menu.copy'),
    paste: t('menu.paste'),
    select_all: t('menu.selectAll'),
    view: t('menu.view'),
    language: t('menu.language'),
    theme: t('menu.theme'),
    theme_system: t('settings.theme.system'),
    theme_light: t('settings.theme.light'),
    theme_dark: t('settings.theme.dark'),
    help: t('menu.help'),
    open_logs: t('menu.openLogs'),
    copy_diagnostics: t('menu.copyDiagnostics'),
    about: t('menu.about'),
    services: t('menu.services'),
    hide: t('menu.hide'),
    hide_others: t('menu.hideOthers'),
    show_all: t('menu.showAll'),
    window: t('menu.window'),
    minimize: t('menu.minimize'),
    zoom: t('menu.zoom'),
  };
}

const MENU_LANGUAGES: MenuLanguage[] = (Object.keys(LOCALES) as Locale[]).map((code) => ({
  code,
  name: LOCALE_NAMES[code],
}));

/** (Re)builds the native menus for the current language and theme. */
export function refreshMenu() {
  api
    .setMenu(menuLabels(), MENU_LANGUAGES, i18n.locale, prefs.theme)
    .catch((e: IpcError) => console.warn('the menus were not updated:', e.message));
}

/** A menu choice the window carries out (the shell sends its id). */
export type MenuAction =
  | { kind: 'import' | 'export_failed' | 'settings' | 'open_logs' | 'copy_diagnostics' | 'about' }
  | { kind: 'language'; locale: Locale }
  | { kind: 'theme'; theme: Theme };

export function parseMenuId(id: string): MenuAction | null {
  const [group, value] = id.split(':', 2);
  if (group === 'language' && isLocale(value)) return { kind: 'language', locale: value };
  if (group === 'theme' && (value === 'system' || value === 'light' || value === 'dark')) return { kind: 'theme', theme: value };
  switch (id) {
    case 'import':
    case 'export_failed':
    case 'settings':
    case 'open_logs':
    case 'copy_diagnostics':
    case 'about':
      return { kind: id };
    default:
      return null;
  }
}
