// Typed wrappers over the app's Tauri commands. The only place the UI names a
// command; argument and result types come from Rust (bindings/, by ts-rs).
import { Channel, invoke } from '@tauri-apps/api/core';
import type { Account } from './bindings/Account';
import type { AppliedRule } from './bindings/AppliedRule';
import type { AccountSettings } from './bindings/AccountSettings';
import type { CapturedMessage } from './bindings/CapturedMessage';
import type { CapturedSummary } from './bindings/CapturedSummary';
import type { Diagnosis } from './bindings/Diagnosis';
import type { Preset } from './bindings/Preset';
import type { ConnectionWarning } from './bindings/ConnectionWarning';
import type { Security } from './bindings/Security';
import type { StageReport } from './bindings/StageReport';
import type { CampaignSummary } from './bindings/CampaignSummary';
import type { ErrorKind } from './bindings/ErrorKind';
import type { ImportChoice } from './bindings/ImportChoice';
import type { ImportChoices } from './bindings/ImportChoices';
import type { ImportReport } from './bindings/ImportReport';
import type { ImportPreview } from './bindings/ImportPreview';
import type { ImportProgress } from './bindings/ImportProgress';
import type { IpcError } from './bindings/IpcError';
import type { Recipient } from './bindings/Recipient';
import type { Batch } from './bindings/Batch';
import type { CampaignEvent } from './bindings/CampaignEvent';
import type { MessageCheck } from './bindings/MessageCheck';
import type { MessageDraft } from './bindings/MessageDraft';
import type { Preview } from './bindings/Preview';
import type { SendPlan } from './bindings/SendPlan';
import type { RunReport } from './bindings/RunReport';
import type { RenderedMessage } from './bindings/RenderedMessage';
import type { TemplateSummary } from './bindings/TemplateSummary';
import type { RecipientStatus } from './bindings/RecipientStatus';
import type { UncertainDecision } from './bindings/UncertainDecision';
import type { PasswordChange } from './bindings/PasswordChange';
import type { ImportMode } from './bindings/ImportMode';
import type { Mailbox } from './bindings/Mailbox';
import type { MailboxSettings } from './bindings/MailboxSettings';
import type { MailboxDiagnosis } from './bindings/MailboxDiagnosis';
import type { MailboxStageReport } from './bindings/MailboxStageReport';
import type { ScanReport } from './bindings/ScanReport';
import type { ScanProgress } from './bindings/ScanProgress';
import type { SuppressionPage } from './bindings/SuppressionPage';
import type { SuppressionImport } from './bindings/SuppressionImport';
import type { Settings } from './bindings/Settings';
import type { Theme } from './bindings/Theme';
import type { LogLevel } from './bindings/LogLevel';
import type { DatabaseInfo } from './bindings/DatabaseInfo';
import type { MenuLabels } from './bindings/MenuLabels';
import type { MenuLanguage } from './bindings/MenuLanguage';
import type { TrayLabels } from './bindings/TrayLabels';
import type { Away } from './bindings/Away';
import type { Plan } from './bindings/Plan';
import type { Schedule } from './bindings/Schedule';
import type { ScheduledCampaign } from './bindings/ScheduledCampaign';
import type { RecipientQuery } from './bindings/RecipientQuery';
import type { RecipientPage } from './bindings/RecipientPage';
import type { RecipientFacets } from './bindings/RecipientFacets';
import type { RecipientHistory } from './bindings/RecipientHistory';
import type { RunRecord } from './bindings/RunRecord';
import type { ResendChoice } from './bindings/ResendChoice';
import type { ResendPlan } from './bindings/ResendPlan';
import type { StateFilter } from './bindings/StateFilter';

function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/** Calls a command; a rejection is always an `IpcError`. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    if (isIpcError(error)) throw error;
    const kind: ErrorKind = 'internal';
    throw { kind, message: String(error) } satisfies IpcError;
  }
}

/** What the person chose on the Recipients screen; unset means "detect". */
/** The choices made on the import preview; `ImportChoices.choose` in the engine changes them. */
export type { ImportChoices, ImportChoice };

/** No choice made: everything detected. */
export const NO_IMPORT_CHOICES: ImportChoices = {
  email_column: null,
  encoding: null,
  delimiter: null,
  sheet: null,
  literal_quotes: false,
};

export { isIpcError };
export type { IpcError, Settings, Theme, LogLevel, DatabaseInfo };

export const api = {
  /** How the file would be imported and its first rows; saves nothing. */
  /** The extensions of the files Mailroom offers to import, lower-case, without the dot. */
  importExtensions: () => call<string[]>('import_extensions'),
  /** What a connection being set up would be warned of (the engine's rule). */
  connectionWarnings: (security: Security, host: string, acceptInvalidCerts: boolean) =>
    call<ConnectionWarning[]>('connection_warnings', { security, host, acceptInvalidCerts }),
  /** The choices after `change` (another sheet or reading forgets the chosen email column). */
  chooseImport: (choices: ImportChoices, change: ImportChoice) =>
    call<ImportChoices>('choose_import', { choices, change }),
  previewImport: (path: string, choices: ImportChoices = NO_IMPORT_CHOICES) =>
    call<ImportPreview>('preview_import', { path, choices }),
  /**
   * Imports the file as a new draft campaign, replacing the draft `replaces`
   * (the same file with other choices). `onProgress` sees how far it has got;
   * `cancelImport(importId)` cancels it.
   */
  importRecipients: (
    path: string,
    choices: ImportChoices = NO_IMPORT_CHOICES,
    replaces: number | null = null,
    importId = 0,
    onProgress: (progress: ImportProgress) => void = () => {},
  ) => {
    const channel = new Channel<Batch<ImportProgress>>();
    channel.onmessage = (batch) => batch.events.forEach(onProgress);
    return call<ImportReport>('import_recipients', {
      path,
      choices,
      replaces,
      importId,
      onProgress: channel,
    });
  },
  cancelImport: (importId: number) => call<null>('cancel_import', { importId }),
  /** Puts the campaign's failed recipients back to pending; returns how many. */
  /** Failed recipients back to pending; bounced ones too only when `includeBounced`. */
  resendFailed: (campaign: number, includeBounced = false) =>
    call<number>('resend_failed', { campaign, includeBounced }),
  campaignSummary: (campaign: number) => call<CampaignSummary>('campaign_summary', { campaign }),
  /** A page of recipients in file order: those in `status`, or all. */
  listRecipients: (campaign: number, status: RecipientStatus | null, offset: number, limit: number) =>
    call<Recipient[]>('list_recipients', { campaign, status, offset, limit }),
  listCampaigns: () => call<CampaignSummary[]>('list_campaigns'),
  /** Writes the campaign's recipients in `statuses` to a CSV file; returns how many. */
  exportRecipients: (campaign: number, statuses: RecipientStatus[], path: string) =>
    call<number>('export_recipients', { campaign, statuses, path }),
  databaseLocation: () => call<string>('database_location'),
  /** The file the OS asked Mailroom to open ("Open with", a second launch), once; null if none. */
  takeOpenedFile: () => call<string | null>('take_opened_file'),

  listAccounts: () => call<Account[]>('list_accounts'),
  accountRules: (name: string) => call<AppliedRule[]>('account_rules', { name }),
  smtpPresets: () => call<Preset[]>('smtp_presets'),
  presetSettings: (preset: string, name: string, region: string | null) =>
    call<AccountSettings>('preset_settings', { preset, name, region }),
  secretStoreNotice: () => call<string | null>('secret_store_notice'),
  /** `id` null adds; the password only ever travels window → engine. */
  /** Adds (`id` null) or updates an account; `password` keeps, sets or clears the stored one. */
  saveAccount: (id: number | null, settings: AccountSettings, password: PasswordChange) =>
    call<Account>('save_account', { id, settings, password }),
  removeAccount: (name: string) => call<null>('remove_account', { name }),
  /** Runs Test connection; `onStage` sees each stage as it completes. */
  testAccount: (name: string, sendTo: string | null, testId: number, onStage: (stage: StageReport) => void) => {
    const channel = new Channel<Batch<StageReport>>();
    channel.onmessage = (batch) => batch.events.forEach(onStage);
    return call<Diagnosis>('test_account', { name, sendTo, testId, onStage: channel });
  },
  cancelTest: (testId: number) => call<null>('cancel_test', { testId }),
  listCaptured: (offset: number, limit: number) => call<CapturedSummary[]>('list_captured', { offset, limit }),
  capturedMessage: (id: number) => call<CapturedMessage>('captured_message', { id }),
  clearCaptured: () => call<number>('clear_captured'),

  getMessage: (campaign: number) => call<MessageDraft | null>('get_message', { campaign }),
  saveMessage: (campaign: number, draft: MessageDraft) => call<MessageCheck>('save_message', { campaign, draft }),
  previewMessage: (campaign: number, row: number | null, account: string | null) =>
    call<Preview>('preview_message', { campaign, row, account }),
  /** Runs the campaign to its end on `accounts`, in order (empty: the
   * campaign's own); `onEvents` gets at most ten batches a second. */
  startCampaign: (campaign: number, accounts: string[], onEvents: (batch: Batch<CampaignEvent>) => void) => {
    const channel = new Channel<Batch<CampaignEvent>>();
    channel.onmessage = onEvents;
    return call<RunReport>('start_campaign', { campaign, accounts, onEvents: channel });
  },
  /** The campaign's accounts in order (its list, else the one it last ran on). */
  campaignAccounts: (campaign: number) => call<string[]>('campaign_accounts', { campaign }),
  /** Ends an account's suspension now; whether it was suspended. */
  resumeAccount: (name: string) => call<boolean>('resume_account', { name }),
  pauseCampaign: (campaign: number) => call<null>('pause_campaign', { campaign }),
  stopCampaign: (campaign: number) => call<null>('stop_campaign', { campaign }),
  /** A desktop notification (tauri-plugin-notification; desktops ask no permission). */
  notify: (title: string, body: string) => call<null>('plugin:notification|notify', { options: { title, body } }),
  /** Pauses every sending campaign, lets in-flight mail finish, and quits. */
  pauseAllAndQuit: () => call<null>('pause_all_and_quit'),
  /** Closing while campaigns send or wait: hide behind a tray icon (or minimise where there is none). */
  keepRunningInBackground: (labels: TrayLabels) => call<Away>('keep_running_in_background', { labels }),
  /** A run's end has been told (its notification is out): Mailroom in the background may quit. */
  runSettled: (needsAttention: boolean) => call<null>('run_settled', { needsAttention }),
  findRecipientRow: (campaign: number, query: string) => call<number>('find_recipient_row', { campaign, query }),
  cleanPastedHtml: (html: string) => call<string>('clean_pasted_html', { html }),
  /** Sends one row's message as a test; `cancelTest(testId)` gives up on it. */
  sendTestMessage: (campaign: number, row: number | null, account: string, to: string, testId: number) =>
    call<RenderedMessage>('send_test_message', { campaign, row, account, to, testId }),
  /** The merge fields a campaign's message may use (`email` among them), before anything is saved. */
  mergeFields: (campaign: number) => call<string[]>('merge_fields', { campaign }),
  /** What Start would do on `accounts` in order (none: the campaign's): how many, through which accounts, from whom, at what pace, how long. */
  sendPlan: (campaign: number, accounts: string[]) => call<SendPlan>('send_plan', { campaign, accounts }),
  /** The account offered first: the last one used, the sandbox on a fresh install. */
  defaultAccount: () => call<string | null>('default_account'),
  listTemplates: () => call<TemplateSummary[]>('list_templates'),
  saveTemplate: (name: string, draft: MessageDraft) => call<null>('save_template', { name, draft }),
  templateDraft: (name: string) => call<MessageDraft>('template_draft', { name }),
  deleteTemplate: (name: string) => call<null>('delete_template', { name }),
  /** The decision about the campaign's uncertain recipients: send them again, or count them as sent. */
  settleUncertain: (campaign: number, decision: UncertainDecision) =>
    call<number>('settle_uncertain', { campaign, decision }),

  /** Results: a page of the campaign's recipients by state, reason and text (by cursor). */
  recipientPage: (campaign: number, query: RecipientQuery) => call<RecipientPage>('recipient_page', { campaign, query }),
  /** Counts by state, and by reason within `filter` (all when null). */
  recipientFacets: (campaign: number, filter: StateFilter | null) =>
    call<RecipientFacets>('recipient_facets', { campaign, filter }),
  /** Every attempt of the recipient on spreadsheet row `row`, its send and bounces. */
  recipientHistory: (campaign: number, row: number) => call<RecipientHistory>('recipient_history', { campaign, row }),
  campaignRuns: (campaign: number) => call<RunRecord[]>('campaign_runs', { campaign }),
  /** What Resend with `choice` would send and leave out; nothing changes. */
  resendPlan: (campaign: number, choice: ResendChoice) => call<ResendPlan>('resend_plan', { campaign, choice }),
  /** Resend as chosen: those recipients back to pending, ready for startCampaign. */
  resendChosen: (campaign: number, choice: ResendChoice) => call<ResendPlan>('resend_chosen', { campaign, choice }),
  /** The decision about uncertain recipients on `rows` (all when null). */
  settleUncertainRows: (campaign: number, rows: number[] | null, decision: UncertainDecision) =>
    call<number>('settle_uncertain_rows', { campaign, rows, decision }),

  /** Mailboxes (IMAP) of SMTP accounts, for bounces and unsubscribe replies. */
  listMailboxes: () => call<Mailbox[]>('list_mailboxes'),
  suggestedMailbox: (account: string) => call<MailboxSettings>('suggested_mailbox', { account }),
  /** Adds or updates; the password only ever travels window → engine. */
  saveMailbox: (account: string, settings: MailboxSettings, password: string | null, sameAsSmtp: boolean) =>
    call<Mailbox>('save_mailbox', { account, settings, password, sameAsSmtp }),
  removeMailbox: (account: string) => call<null>('remove_mailbox', { account }),
  /** Test connection; `onStage` sees each step; `cancelTest(testId)` stops it. */
  testMailbox: (account: string, testId: number, onStage: (stage: MailboxStageReport) => void) => {
    const channel = new Channel<Batch<MailboxStageReport>>();
    channel.onmessage = (batch) => batch.events.forEach(onStage);
    return call<MailboxDiagnosis>('test_mailbox', { account, testId, onStage: channel });
  },
  /** Scans the account's mailbox now (every mailbox when null); `onProgress` sees how far it read. */
  scanBounces: (account: string | null, onProgress: (progress: ScanProgress) => void) => {
    const channel = new Channel<ScanProgress>();
    channel.onmessage = onProgress;
    return call<ScanReport[]>('scan_bounces', { account, onProgress: channel });
  },
  /** A page of the suppression list, newest first: the addresses or reasons containing `search` (all when empty), and how many match. */
  listSuppressions: (search: string, offset: number, limit: number) =>
    call<SuppressionPage>('list_suppressions', { search, offset, limit }),
  /** Puts an address on the suppression list by hand; whether it was new. */
  addSuppression: (email: string, reason: string | null) => call<boolean>('add_suppression', { email, reason }),
  removeSuppression: (email: string) => call<null>('remove_suppression', { email }),
  /** Reads a file of addresses with the recipient importer; `save` false only counts. */
  /** `check` counts what the file would add (nothing changes); `save` adds it. */
  importSuppressions: (path: string, mode: ImportMode) => call<SuppressionImport>('import_suppressions', { path, mode }),
  exportSuppressions: (path: string) => call<number>('export_suppressions', { path }),
  /** Deletes a campaign and all its data (the window calls it once Undo has passed). */
  deleteCampaign: (campaign: number) => call<null>('delete_campaign', { campaign }),

  /** A campaign's start time and send windows (none: it has no schedule). */
  getSchedule: (campaign: number) => call<Schedule | null>('get_schedule', { campaign }),
  /**
   * `start`: the local date and time chosen ("2026-12-03 09:00"), read in `schedule.time_zone` by the engine;
   * `accounts`: the accounts in order the start sends on (one: the schedule's own; several: the campaign's list).
   */
  setSchedule: (campaign: number, start: string | null, schedule: Schedule, accounts: string[]) =>
    call<null>('set_schedule', { campaign, start, schedule, accounts }),
  clearSchedule: (campaign: number) => call<null>('clear_schedule', { campaign }),
  /** Every schedule; `missed`: its start passed while Mailroom was closed. */
  listSchedules: () => call<ScheduledCampaign[]>('list_schedules'),
  /** Takes a scheduled start (it begins now); the account it was to send on. */
  takeScheduledStart: (campaign: number) => call<string | null>('take_scheduled_start', { campaign }),
  /** How the remaining recipients would go out on `accounts` in order (none: the schedule's or campaign's), per day; `rateHint`: the live rate while sending. */
  planCampaign: (campaign: number, accounts: string[], rateHint: number | null) =>
    call<Plan>('plan_campaign', { campaign, accounts, rateHint }),
  localTimeZone: () => call<string>('local_time_zone'),
  timeZones: () => call<string[]>('time_zones'),

  /** The settings the engine keeps (theme, language, log level, database). */
  getSettings: () => call<Settings>('get_settings'),
  setTheme: (theme: Theme) => call<Settings>('set_theme', { theme }),
  /** `null` follows the OS. */
  setLanguage: (language: string | null) => call<Settings>('set_language', { language }),
  setLogLevel: (level: LogLevel) => call<Settings>('set_log_level', { level }),
  databaseInfo: () => call<DatabaseInfo>('database_info'),
  /** Uses the database at `path` from now on (an existing one, or a new file). */
  chooseDatabase: (path: string) => call<DatabaseInfo>('choose_database', { path }),
  /** The "copy diagnostics" report (addresses hidden, no passwords). */
  diagnostics: () => call<string>('diagnostics'),
  openLogsFolder: () => call<null>('open_logs_folder'),
  showDatabaseFolder: () => call<null>('show_database_folder'),
  /** Builds the native menus with these labels, `language` and `theme` checked. */
  setMenu: (labels: MenuLabels, languages: MenuLanguage[], language: string, theme: Theme) =>
    call<null>('set_menu', { labels, languages, language, theme }),
  /** Quit as the menu does: asks first while a campaign sends. */
  quit: () => call<null>('quit'),
};
