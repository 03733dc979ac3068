// The message catalog in use: which language, and `t()` to look a message up.
// The language follows the OS (the WebView's navigator.languages) until the
// person picks one, which is remembered.
import { en, type MessageKey, type Messages } from './en';
import { zhCN } from './zh-CN';

export const LOCALES = { en, 'zh-CN': zhCN } as const satisfies Record<string, Messages>;
export type Locale = keyof typeof LOCALES;
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', 'zh-CN': '简体中文' };

const STORAGE_KEY = 'mailroom.locale';

function isLocale(value: string | null): value is Locale {
  return value !== null && Object.hasOwn(LOCALES, value);
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

const initial = detectLocale(localStorage.getItem(STORAGE_KEY), navigator.languages ?? [navigator.language]);
let current = $state<Locale>(initial);
document.documentElement.lang = initial;

export const i18n = {
  get locale(): Locale {
    return current;
  },
  set locale(locale: Locale) {
    current = locale;
    localStorage.setItem(STORAGE_KEY, locale);
    document.documentElement.lang = locale;
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
