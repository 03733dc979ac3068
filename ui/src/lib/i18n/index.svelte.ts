// The message catalog in use: which language, and `t()` to look a message up.
// The language follows the OS (the WebView's navigator.languages) until the
// person picks one; the choice is kept in the engine's settings file
// (lib/desktop.svelte.ts saves it), which main.ts reads before the first paint.
import { en, type MessageKey, type Messages } from './en';
import { zhCN } from './zh-CN';

export const LOCALES = { en, 'zh-CN': zhCN } as const satisfies Record<string, Messages>;
export type Locale = keyof typeof LOCALES;
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', 'zh-CN': '简体中文' };

/** Where earlier versions kept the choice, read once to carry it over. */
export const LEGACY_STORAGE_KEY = 'mailroom.locale';

export function isLocale(value: string | null | undefined): value is Locale {
  return typeof value === 'string' && Object.hasOwn(LOCALES, value);
}

/** The saved choice, else the first OS language we have a catalog for. */
export function detectLocale(saved: string | null, preferred: readonly string[]): Locale {
  if (isLocale(saved)) return saved;
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

/** The language the OS asks for. */
export function systemLocale(): Locale {
  return detectLocale(null, navigator.languages ?? [navigator.language]);
}

let current = $state<Locale>(systemLocale());
let chosen = $state(false);
document.documentElement.lang = current;

export const i18n = {
  get locale(): Locale {
    return current;
  },
  /** Whether the person chose the language (else it follows the OS). */
  get chosen(): boolean {
    return chosen;
  },
  /** Shows `locale`, or the OS's language when null. */
  use(locale: Locale | null) {
    chosen = locale !== null;
    current = locale ?? systemLocale();
    document.documentElement.lang = current;
  },
};

/** The message `key` in the current language, with `{name}` placeholders filled. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const template: string = LOCALES[current][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** A number as people of the current language write it (1,234 / 1,234). */
export function formatNumber(n: number): string {
  return new Intl.NumberFormat(current).format(n);
}

/** A Unix-millisecond time as a local date and time. */
export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

/** A file size as the OS's file manager shows it (decimal units: 1.2 MB). */
export function formatBytes(bytes: number): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return new Intl.NumberFormat(current, {
    style: 'unit',
    unit: units[unit],
    unitDisplay: 'short',
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}
