// The real UI over mocked IPC, for tests in headless Chromium. A test sets
// `window.__MAILROOM_SCENARIO__` (command -> result or error) before the page
// loads; every call is recorded, and `drop()` plays a file drag-and-drop.
import { emit } from '@tauri-apps/api/event';
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { Channel } from '@tauri-apps/api/core';
import { outcomesScenario } from './outcomes';
import { resultsScenario } from './results';
import type { IpcError } from '../../src/lib/bindings/IpcError';

type Scenario = {
  results?: Record<string, unknown>;
  failures?: Record<string, IpcError>;
  /** Per command, messages sent on its channel argument before it answers. */
  messages?: Record<string, unknown[]>;
  /** Commands that answer only when the test calls `release(command)`. */
  held?: string[];
  /** A typed scenario of the harness's own to start from (`outcomes`: ./outcomes.ts, `results`: ./results.ts). */
  use?: 'outcomes' | 'results';
};

type Harness = {
  calls: { command: string; args: unknown }[];
  drop: (paths: string[]) => Promise<void>;
  /** Plays an event the shell would send (`close-requested`, `menu` with an item's id). */
  event: (name: string, payload?: unknown) => Promise<void>;
  /** Lets a held command answer. */
  release: (command: string) => void;
  /** From now on, `command` answers `result` (a test walking on to another case). */
  answer: (command: string, result: unknown) => void;
  /** From now on, `command` fails with `failure`; `null` lets it answer again. */
  fail: (command: string, failure: IpcError | null) => void;
  /** The typed scenario's cases, for a test to walk through. */
  cases: Record<string, unknown>;
};

declare global {
  interface Window {
    __MAILROOM_SCENARIO__?: Scenario;
    __mailroom: Harness;
  }
}

const given: Scenario = window.__MAILROOM_SCENARIO__ ?? {};
const typed = given.use === 'outcomes' ? outcomesScenario : given.use === 'results' ? resultsScenario : null;
const scenario: Scenario = typed
  ? {
      ...given,
      results: { ...typed.results, ...given.results },
      messages: { ...typed.messages, ...given.messages },
    }
  : given;
const calls: Harness['calls'] = [];

mockWindows('main');
const releases = new Map<string, () => void>();

/** A channel argument's handler, as the real shell would deliver to it. */
function channelOf(args: unknown): ((message: unknown) => void) | undefined {
  if (typeof args !== 'object' || args === null) return undefined;
  const channel = Object.values(args).find((v) => v instanceof Channel) as Channel<unknown> | undefined;
  return channel?.onmessage;
}

/**
 * What every test gets unless its scenario says otherwise: the desktop around
 * the window (menus, title, taskbar, clipboard), and settings kept like the
 * engine's settings file, here in sessionStorage so they outlive a reload.
 */
const SETTINGS_KEY = 'mailroom.test.settings';
type SettingsShape = { theme: string; language: string | null; log_level: string; database: string | null };
function savedSettings(): SettingsShape {
  const saved = sessionStorage.getItem(SETTINGS_KEY);
  return saved ? (JSON.parse(saved) as SettingsShape) : { theme: 'system', language: null, log_level: 'info', database: null };
}
function changeSettings(change: Partial<SettingsShape>): SettingsShape {
  const settings = { ...savedSettings(), ...change };
  sessionStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  return settings;
}
const defaults: Record<string, (args: Record<string, unknown>) => unknown> = {
  get_settings: () => savedSettings(),
  set_theme: (args) => changeSettings({ theme: args.theme as string }),
  set_language: (args) => changeSettings({ language: args.language as string | null }),
  set_log_level: (args) => changeSettings({ log_level: args.level as string }),
  set_menu: () => null,
  run_settled: () => null,
  account_rules: () => [],
  'plugin:window|set_title': () => null,
  'plugin:window|set_progress_bar': () => null,
  'plugin:clipboard-manager|write_text': () => null,
  'plugin:app|version': () => '0.1.0',
  // No schedules and nothing left to plan, unless a test says otherwise.
  get_schedule: () => null,
  list_schedules: () => [],
  plan_campaign: () => ({
    remaining: 0,
    accounts: [],
    rate_per_second: null,
    per_day: null,
    sent_today: 0,
    time_zone: 'UTC',
    starts_at: null,
    days: [],
    finishes_at: null,
    duration_ms: null,
  }),
  // What the engine's import::accepted_extensions answers.
  import_extensions: () => ['csv', 'tsv', 'txt', 'xlsx', 'xlsm', 'xlsb', 'xls', 'ods'],
  // The change applied as it is; a test of what the engine decides besides
  // (another sheet forgets the email column) gives its answer as a result.
  choose_import: (args) => {
    const change = args.change as { choice: string; value: unknown };
    return { ...(args.choices as Record<string, unknown>), [change.choice]: change.value };
  },
  // No warnings, unless a test gives the engine's answer.
  connection_warnings: () => [],
  local_time_zone: () => 'UTC',
  time_zones: () => ['Asia/Shanghai', 'Europe/Paris', 'UTC'],
};

mockIPC(
  async (command, args) => {
    calls.push({ command, args });
    for (const message of scenario.messages?.[command] ?? []) channelOf(args)?.(message);
    if (scenario.held?.includes(command)) await new Promise<void>((resolve) => releases.set(command, resolve));
    const failure = scenario.failures?.[command];
    if (failure) throw failure;
    if (scenario.results && command in scenario.results) return scenario.results[command];
    const fallback = defaults[command];
    if (fallback) return fallback((args ?? {}) as Record<string, unknown>);
    throw { kind: 'internal', message: `the test did not mock "${command}"` };
  },
  { shouldMockEvents: true },
);

window.__mailroom = {
  calls,
  drop: (paths) => emit('tauri://drag-drop', { paths, position: { x: 100, y: 100 } }),
  event: (name, payload) => emit(name, payload),
  release: (command) => releases.get(command)?.(),
  answer: (command, result) => {
    scenario.results = { ...scenario.results, [command]: result };
  },
  cases: typed && 'cases' in typed ? typed.cases : {},
  fail: (command, failure) => {
    const failures = { ...scenario.failures };
    if (failure === null) delete failures[command];
    else failures[command] = failure;
    scenario.failures = failures;
  },
};

await import('../../src/main');
