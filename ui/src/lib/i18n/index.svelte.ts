// The message catalog in use: which language, and `t()` to look a message up.
// The language follows the OS (the WebView's navigator.languages) until the
// person picks one; the choice is kept in the engine's settings file
// (lib/desktop.svelte.ts saves it), which main.ts reads before the first paint.
import { en, type Catalog, type ChineseForms, type EnglishForms, type MessageKey, type PluralKey, type TextKey } from './en';
import { zhCN } from './zh-CN';

export const LOCALES: { en: Catalog<EnglishForms>; 'zh-CN': Catalog<ChineseForms> } = { en, 'zh-CN': zhCN };
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

type Params = Record<string, string | number>;

/** Which plural form a number takes in a language, one rule set a language. */
const pluralRules = new Map<Locale, Intl.PluralRules>();
function pluralForm(locale: Locale, count: number): Intl.LDMLPluralRule {
  let rules = pluralRules.get(locale);
  if (!rules) {
    rules = new Intl.PluralRules(locale);
    pluralRules.set(locale, rules);
  }
  return rules.select(count);
}

/**
 * The message `key` in the current language, with `{name}` placeholders
 * filled. A message that depends on a number takes it as `count`: the form
 * the language uses for it ("1 recipient", "2 recipients"), with `{count}`
 * written as the language writes numbers.
 */
export function t(key: PluralKey, params: Params & { count: number }): string;
export function t(key: TextKey, params?: Params): string;
export function t(key: MessageKey, params: Params = {}): string {
  const entry: string | Partial<Record<Intl.LDMLPluralRule, string>> = LOCALES[current][key];
  let template: string;
  if (typeof entry === 'string') {
    template = entry;
  } else {
    const count = Number(params.count);
    // A catalog has every form its language has (`EnglishForms`,
    // `ChineseForms`); `other` is in every language's.
    template = entry[pluralForm(current, count)] ?? entry.other ?? '';
    params = { ...params, count: formatNumber(count) };
  }
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Whether `key` is a message of the catalogs that needs no number (for keys made from data, such as a preset's id). */
export function isMessageKey(key: string): key is TextKey {
  return Object.hasOwn(en, key) && typeof en[key as MessageKey] === 'string';
}

/** A number as people of the current language write it (1,234 / 1,234). */
export function formatNumber(n: number): string {
  return new Intl.NumberFormat(current).format(n);
}

/** `n` with one decimal, as the current language writes it. */
function oneDecimal(n: number): string {
  return new Intl.NumberFormat(current, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(n);
}

/**
 * A rate's number: one decimal ("5.0"), or two significant digits under 0.1
 * a second, where one decimal said "0.0/s" for 2,000 a day spread over the
 * day (0.023/s), as if nothing would be sent.
 */
function rateDigits(perSecond: number): string {
  return perSecond > 0 && perSecond < 0.1
    ? new Intl.NumberFormat(current, { maximumSignificantDigits: 2 }).format(perSecond)
    : oneDecimal(perSecond);
}

/** Messages a second: "5.0/s", "每秒 5.0 封". */
export function formatRate(perSecond: number): string {
  return t('format.perSecond', { rate: rateDigits(perSecond) });
}

/** Just the number of a rate ("5.0"), for messages that say the unit themselves. */
export function formatRateNumber(perSecond: number): string {
  return rateDigits(perSecond);
}

/**
 * A length of time in the current language's units: "1 min, 26 sec",
 * "1分钟26秒", "850 ms". Built from Intl unit formats (which every WebView
 * has) rather than Intl.DurationFormat (which older WebKitGTK lacks).
 */
export function formatDuration(ms: number): string {
  const unit = (value: number, unit: string) =>
    new Intl.NumberFormat(current, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 1 }).format(value);
  if (ms < 1000) return unit(Math.round(ms), 'millisecond');
  if (ms < 60_000) return unit(Math.round(ms / 100) / 10, 'second');
  const total = Math.round(ms / 1000);
  const parts: string[] = [];
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) parts.push(unit(h, 'hour'));
  if (m > 0) parts.push(unit(m, 'minute'));
  if (s > 0 && h === 0) parts.push(unit(s, 'second'));
  return new Intl.ListFormat(current, { type: 'unit', style: 'narrow' }).format(parts);
}

/** Words that are not Mailroom's (a server's, the system's), quoted as they came. */
export function quote(text: string): string {
  return t('format.quote', { text });
}

/** A Unix-millisecond time as a local date and time. */
export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

/** A Unix-millisecond time as a local time of day with seconds, for a run's events: "14:03:27". */
export function formatClock(ms: number): string {
  return new Intl.DateTimeFormat(current, { timeStyle: 'medium' }).format(ms);
}

/** A Unix-millisecond time as a short local date: "3 Dec", "12月3日". */
export function formatDay(ms: number): string {
  return new Intl.DateTimeFormat(current, { day: 'numeric', month: 'short' }).format(ms);
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

/** A Unix-millisecond time as a weekday and time in `zone` (IANA): "Mon 09:00", "周一 09:00". */
export function formatWeekdayTime(ms: number, zone: string): string {
  return new Intl.DateTimeFormat(current, { weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone }).format(ms);
}

/** A Unix-millisecond time as a date, weekday and time in `zone` (IANA). */
export function formatZonedTime(ms: number, zone: string): string {
  return new Intl.DateTimeFormat(current, {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone: zone,
  }).format(ms);
}

/** A local date (2026-12-07) as its short weekday: "Mon", "周一". */
export function formatWeekday(date: string): string {
  return new Intl.DateTimeFormat(current, { weekday: 'short', timeZone: 'UTC' }).format(new Date(`${date}T12:00:00Z`));
}
