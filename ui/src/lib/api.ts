// Typed wrappers over the app's Tauri commands. The only place the UI names a
// command; argument and result types come from Rust (bindings/, by ts-rs).
import { Channel, invoke } from '@tauri-apps/api/core';
import type { Account } from './bindings/Account';
import type { AccountSettings } from './bindings/AccountSettings';
import type { CapturedMessage } from './bindings/CapturedMessage';
import type { CapturedSummary } from './bindings/CapturedSummary';
import type { Diagnosis } from './bindings/Diagnosis';
import type { Preset } from './bindings/Preset';
import type { StageReport } from './bindings/StageReport';
import type { CampaignSummary } from './bindings/CampaignSummary';
import type { ErrorKind } from './bindings/ErrorKind';
import type { ImportReport } from './bindings/ImportReport';
import type { ImportPreview } from './bindings/ImportPreview';
import type { ImportProgress } from './bindings/ImportProgress';
import type { IpcError } from './bindings/IpcError';
import type { Recipient } from './bindings/Recipient';
import type { EventBatch } from './bindings/EventBatch';
import type { MessageCheck } from './bindings/MessageCheck';
import type { MessageDraft } from './bindings/MessageDraft';
import type { Preview } from './bindings/Preview';
import type { RunReport } from './bindings/RunReport';
import type { RenderedMessage } from './bindings/RenderedMessage';
import type { TemplateSummary } from './bindings/TemplateSummary';
import type { RecipientStatus } from './bindings/RecipientStatus';
import type { Mailbox } from './bindings/Mailbox';
import type { MailboxSettings } from './bindings/MailboxSettings';
import type { MailboxDiagnosis } from './bindings/MailboxDiagnosis';
import type { MailboxStageReport } from './bindings/MailboxStageReport';
import type { ScanReport } from './bindings/ScanReport';
import type { ScanProgress } from './bindings/ScanProgress';
import type { Suppression } from './bindings/Suppression';
import type { Settings } from './bindings/Settings';
import type { Theme } from './bindings/Theme';
import type { LogLevel } from './bindings/LogLevel';
import type { DatabaseInfo } from './bindings/DatabaseInfo';
import type { MenuLabels } from './bindings/MenuLabels';
import type { MenuLanguage } from './bindings/MenuLanguage';

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
export type ImportChoices = {
  emailColumn?: string;
  encoding?: string;
  delimiter?: string;
  sheet?: string;
  /** Text files: `literal` reads " as a character, not as quoting. */
  quotes?: 'standard' | 'literal';
};

function choiceArgs(choices: ImportChoices) {
  return {
    emailColumn: choices.emailColumn ?? null,
    encoding: choices.encoding ?? null,
    delimiter: choices.delimiter ?? null,
    sheet: choices.sheet ?? null,
    literalQuotes: choices.quotes === undefined ? null : choices.quotes === 'literal',
  };
}

export { isIpcError };
export type { IpcError, Settings, Theme, LogLevel, DatabaseInfo };

export const api = {
  /** How the file would be imported and its first rows; saves nothing. */
  previewImport: (path: string, choices: ImportChoices = {}) =>
    call<ImportPreview>('preview_import', { path, ...choiceArgs(choices) }),
  /**
   * Imports the file as a new draft campaign, replacing the draft `replaces`
   * (the same file with other choices). `onProgress` sees how far it has got;
   * `cancelImport(importId)` cancels it.
   */
  importRecipients: (
    path: string,
    choices: ImportChoices = {},
    replaces: number | null = null,
    importId = 0,
    onProgress: (progress: ImportProgress) => void = () => {},
  ) => {
    const channel = new Channel<ImportProgress>();
    channel.onmessage = onProgress;
    return call<ImportReport>('import_recipients', {
      path,
      ...choiceArgs(choices),
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
  smtpPresets: () => call<Preset[]>('smtp_presets'),
  presetSettings: (preset: string, name: string, region: string | null) =>
    call<AccountSettings>('preset_settings', { preset, name, region }),
  secretStoreNotice: () => call<string | null>('secret_store_notice'),
  /** `id` null adds; the password only ever travels window → engine. */
  saveAccount: (id: number | null, settings: AccountSettings, password: string | null, clearPassword = false) =>
    call<Account>('save_account', { id, settings, password, clearPassword }),
  removeAccount: (name: string) => call<null>('remove_account', { name }),
  /** Runs Test connection; `onStage` sees each stage as it completes. */
  testAccount: (name: string, sendTo: string | null, testId: number, onStage: (stage: StageReport) => void) => {
    const channel = new Channel<StageReport>();
    channel.onmessage = onStage;
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
  /** Runs the campaign to its end; `onEvents` gets at most ten batches a second. */
  startCampaign: (campaign: number, account: string | null, onEvents: (batch: EventBatch) => void) => {
    const channel = new Channel<EventBatch>();
    channel.onmessage = onEvents;
    return call<RunReport>('start_campaign', { campaign, account, onEvents: channel });
  },
  pauseCampaign: (campaign: number) => call<null>('pause_campaign', { campaign }),
  stopCampaign: (campaign: number) => call<null>('stop_campaign', { campaign }),
  /** A desktop notification (tauri-plugin-notification; desktops ask no permission). */
  notify: (title: string, body: string) => call<null>('plugin:notification|notify', { options: { title, body } }),
  /** Pauses every sending campaign, lets in-flight mail finish, and quits. */
  pauseAllAndQuit: () => call<null>('pause_all_and_quit'),
  findRecipientRow: (campaign: number, query: string) => call<number>('find_recipient_row', { campaign, query }),
  cleanPastedHtml: (html: string) => call<string>('clean_pasted_html', { html }),
  sendTestMessage: (campaign: number, row: number | null, account: string, to: string) =>
    call<RenderedMessage>('send_test_message', { campaign, row, account, to }),
  listTemplates: () => call<TemplateSummary[]>('list_templates'),
  saveTemplate: (name: string, draft: MessageDraft) => call<null>('save_template', { name, draft }),
  templateDraft: (name: string) => call<MessageDraft>('template_draft', { name }),
  deleteTemplate: (name: string) => call<null>('delete_template', { name }),
  settleUncertain: (campaign: number, resend: boolean) => call<number>('settle_uncertain', { campaign, resend }),

  /** Mailboxes (IMAP) of SMTP accounts, for bounces and unsubscribe replies. */
  listMailboxes: () => call<Mailbox[]>('list_mailboxes'),
  suggestedMailbox: (account: string) => call<MailboxSettings>('suggested_mailbox', { account }),
  /** Adds or updates; the password only ever travels window → engine. */
  saveMailbox: (account: string, settings: MailboxSettings, password: string | null, sameAsSmtp: boolean) =>
    call<Mailbox>('save_mailbox', { account, settings, password, sameAsSmtp }),
  removeMailbox: (account: string) => call<null>('remove_mailbox', { account }),
  /** Test connection; `onStage` sees each step; `cancelTest(testId)` stops it. */
  testMailbox: (account: string, testId: number, onStage: (stage: MailboxStageReport) => void) => {
    const channel = new Channel<MailboxStageReport>();
    channel.onmessage = onStage;
    return call<MailboxDiagnosis>('test_mailbox', { account, testId, onStage: channel });
  },
  /** Scans the account's mailbox now (every mailbox when null); `onProgress` sees how far it read. */
  scanBounces: (account: string | null, onProgress: (progress: ScanProgress) => void) => {
    const channel = new Channel<ScanProgress>();
    channel.onmessage = onProgress;
    return call<ScanReport[]>('scan_bounces', { account, onProgress: channel });
  },
  /** A page of the suppression list, newest first. */
  listSuppressions: (offset: number, limit: number) => call<Suppression[]>('list_suppressions', { offset, limit }),

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
