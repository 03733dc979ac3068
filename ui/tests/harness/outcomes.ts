// A campaign's whole story as the engine tells it, typed against the
// generated bindings (svelte-check fails when a shape drifts from Rust's):
// skipped rows, a failed Test connection, 4xx and 5xx failures, a quota
// wait, a throttled rate, connection trouble, a pause of the campaign's own,
// and the reasons stored on recipients; an account with connection
// warnings, a previewed message and the template problems the Message
// screen can meet. The language test walks every screen over it
// (tests/language.test.mjs).
import type { Account } from '../../src/lib/bindings/Account';
import type { AccountSettings } from '../../src/lib/bindings/AccountSettings';
import type { AttachmentProblem } from '../../src/lib/bindings/AttachmentProblem';
import type { CampaignSummary } from '../../src/lib/bindings/CampaignSummary';
import type { CapturedMessage } from '../../src/lib/bindings/CapturedMessage';
import type { CapturedSummary } from '../../src/lib/bindings/CapturedSummary';
import type { DatabaseInfo } from '../../src/lib/bindings/DatabaseInfo';
import type { Diagnosis } from '../../src/lib/bindings/Diagnosis';
import type { Batch } from '../../src/lib/bindings/Batch';
import type { CampaignEvent } from '../../src/lib/bindings/CampaignEvent';
import type { Failure } from '../../src/lib/bindings/Failure';
import type { IpcError } from '../../src/lib/bindings/IpcError';
import type { MessageCheck } from '../../src/lib/bindings/MessageCheck';
import type { Preview } from '../../src/lib/bindings/Preview';
import type { TemplateError } from '../../src/lib/bindings/TemplateError';
import type { ImportPreview } from '../../src/lib/bindings/ImportPreview';
import type { ImportReport } from '../../src/lib/bindings/ImportReport';
import type { Preset } from '../../src/lib/bindings/Preset';
import type { Recipient } from '../../src/lib/bindings/Recipient';
import type { RunReport } from '../../src/lib/bindings/RunReport';
import type { SendPlan } from '../../src/lib/bindings/SendPlan';
import type { StageReport } from '../../src/lib/bindings/StageReport';
import type { StatusCounts } from '../../src/lib/bindings/StatusCounts';
import type { SuppressionPage } from '../../src/lib/bindings/SuppressionPage';

const at = Date.UTC(2026, 10, 23, 9, 30);
const columns = ['name', 'email', 'city'];

const rejected: Failure = {
  stage: 'rcpt',
  problem: 'rejected',
  code: 550,
  enhanced_code: '5.1.1',
  text: 'User unknown',
  after_content: false,
};
const busy: Failure = { stage: 'rcpt', problem: 'rejected', code: 451, enhanced_code: '4.3.0', text: 'Try again later', after_content: false };
const throttled: Failure = { stage: 'data', problem: 'throttled', code: 454, enhanced_code: '4.7.0', text: 'Throttling failure', after_content: false };
const silent: Failure = { stage: 'data', problem: 'timed_out', code: null, enhanced_code: null, text: 'no answer within 2 min', after_content: true };
const refused: Failure = { stage: 'connect', problem: 'refused', code: null, enhanced_code: null, text: '127.0.0.1:2526: Connection refused (os error 111)', after_content: false };
const cancelled: Failure = { stage: 'greeting', problem: 'cancelled', code: null, enhanced_code: null, text: 'cancelled', after_content: false };

const counts: StatusCounts = { pending: 3, sending: 0, sent: 4, retry_wait: 1, failed: 20, skipped: 3, cancelled: 1, uncertain: 1, bounced: 1 };
const campaign: CampaignSummary = {
  id: 7,
  name: 'spring',
  status: 'paused',
  pause_reason: { kind: 'failures_in_a_row', count: 20, last: { kind: 'smtp', failure: rejected, unanswered_before: false } },
  account: 'Sandbox',
  source_file: '/home/ann/lists/spring.csv',
  columns,
  email_column: 'email',
  created_at: at,
  total: 33,
  counts,
  sent_by: null,
  interrupted: false,
};

const fields = (name: string, email: string) => ({ name, email, city: 'Oslo' });
const recipient = (row: number, email: string, status: Recipient['status'], reason: Recipient['reason'], attempts = 1): Recipient => ({
  row,
  email,
  status,
  reason,
  reply: status === 'sent' ? '250 2.0.0 Ok: queued as 4BxQ' : null,
  attempts,
  unanswered: reason?.kind === 'sent_maybe_twice' ? 1 : 0,
  bounce: reason?.kind === 'bounced' ? reason.bounce : null,
  message_version: status === 'skipped' ? null : 1,
  fields: fields(`Person ${row}`, email),
});

const recipients: Recipient[] = [
  recipient(2, 'ann@example.com', 'sent', null),
  recipient(3, 'bob-at-example.com', 'skipped', { kind: 'invalid_address', problem: 'missing_at' }, 0),
  recipient(4, 'li@example', 'skipped', { kind: 'invalid_address', problem: 'bad_domain' }, 0),
  recipient(5, 'ANN@example.com', 'skipped', { kind: 'duplicate', first_row: 2 }, 0),
  recipient(6, 'blocked@example.com', 'skipped', { kind: 'suppressed', reason: '550 5.1.1 User unknown' }, 0),
  recipient(7, 'nobody@example.com', 'failed', { kind: 'smtp', failure: rejected, unanswered_before: false }),
  recipient(8, 'later@example.com', 'retry_wait', { kind: 'smtp', failure: busy, unanswered_before: false }),
  recipient(9, 'tired@example.com', 'failed', { kind: 'gave_up', attempts: 5, last: throttled }, 5),
  recipient(10, 'quiet@example.com', 'uncertain', { kind: 'no_answer', failure: silent }),
  recipient(11, 'twice@example.com', 'sent', { kind: 'sent_maybe_twice' }, 2),
  recipient(12, 'stopped@example.com', 'cancelled', { kind: 'stopped' }, 0),
  recipient(13, 'marked@example.com', 'sent', { kind: 'marked_sent' }),
  recipient(14, 'crash@example.com', 'uncertain', { kind: 'in_flight_at_stop' }),
  recipient(15, 'gone@example.com', 'uncertain', { kind: 'gave_up_maybe_delivered', attempts: 3, last: busy }, 3),
  recipient(16, 'again@example.com', 'retry_wait', { kind: 'no_answer_resending', failure: silent }),
  recipient(17, 'file@example.com', 'failed', {
    kind: 'unrenderable',
    detail: 'text, line 3: undefined value',
    problem: { part: 'text', row: null, line: 3, problem: { kind: 'render', cause: 'undefined', detail: 'undefined value' } },
  }),
  // Kept before the problem was typed: its English detail, quoted.
  recipient(19, 'old@example.com', 'failed', { kind: 'unrenderable', detail: 'cannot read brochure.pdf', problem: null }),
  recipient(18, 'gone-for-good@example.com', 'bounced', {
    kind: 'bounced',
    bounce: 'hard',
    status: '5.1.1',
    diagnostic: '550 5.1.1 <gone-for-good@example.com>: Recipient address rejected: User unknown',
    reporting_mta: 'mx.example.com',
  }),
];

const preview: ImportPreview = {
  format: 'csv',
  encoding: 'UTF-8',
  delimiter: ',',
  literal_quotes: null,
  sheet: null,
  sheets: [],
  columns,
  fields: columns,
  email_column: 'email',
  rows: [['Ann', 'ann@example.com', 'Oslo']],
  file_bytes: 1800,
};
const report: ImportReport = {
  campaign: { ...campaign, status: 'draft', pause_reason: null, counts: { ...counts, pending: 30, sent: 0, failed: 0, retry_wait: 0, cancelled: 0, uncertain: 0 } },
  rows: 33,
  valid: 30,
  invalid: [
    { row: 3, value: 'bob-at-example.com', reason: 'missing_at' },
    { row: 4, value: 'li@example', reason: 'bad_domain' },
  ],
  duplicates: [{ row: 5, email: 'ANN@example.com', first_row: 2 }],
  suppressed: [{ row: 6, email: 'blocked@example.com', reason: '550 5.1.1 User unknown' }],
  format: 'csv',
  encoding: 'UTF-8',
  delimiter: ',',
  literal_quotes: false,
  sheet: null,
  columns,
  fields: columns,
  email_column: 'email',
  preview: [['Ann', 'ann@example.com', 'Oslo']],
};

const account: Account = {
  id: 1,
  name: 'Sandbox',
  preset: 'sandbox',
  host: '127.0.0.1',
  port: 2526,
  security: 'none',
  auth: 'none',
  username: null,
  from_address: 'news@example.com',
  from_name: null,
  reply_to: null,
  helo_name: null,
  connect_timeout_ms: 15000,
  command_timeout_ms: 30000,
  data_timeout_ms: 120000,
  connections: 4,
  per_connection: 100,
  rate_per_second: 5,
  per_minute: 300,
  per_hour: null,
  per_day: null,
  retries: 5,
  accept_invalid_certs: false,
  outage_limit_ms: 600_000,
  rules: { added: [], removed: [] },
  retry_ambiguous: false,
  has_password: false,
  warnings: [],
  // A throttling server's limit, found by its last campaign (issue 19).
  held_rate: { rate: 14.2, at: Date.UTC(2026, 11, 3, 10) },
  // Suspended by its provider's daily limit until the day frees (issue 19).
  suspension: {
    until: Date.UTC(2026, 11, 4, 9),
    since: Date.UTC(2026, 11, 3, 9),
    reason: { kind: 'quota', window: 'day', limit: 500 },
  },
};
/** An account's settings, without what only a saved account has. */
function settingsOf(saved: Account): AccountSettings {
  const { id, has_password, warnings, held_rate, suspension, ...settings } = saved;
  void id, has_password, warnings, held_rate, suspension;
  return settings;
}
const preset = (id: string, name: string, password_label: string | null, note: string): Preset => ({
  id,
  name,
  host: '127.0.0.1',
  port: 2526,
  security: 'none',
  auth: 'none',
  username: null,
  regions: [],
  default_region: null,
  connections: 4,
  per_connection: 100,
  rate_per_second: null,
  per_minute: null,
  per_hour: null,
  per_day: null,
  password_label,
  note,
});
// As the engine's presets/smtp.json has them: the window says them by id.
const presets: Preset[] = [
  preset('sandbox', 'Sandbox (built in)', null, "Mailroom's own capture server on this computer."),
  preset('gmail', 'Gmail', 'App password', 'Needs 2-Step Verification and an app password.'),
  preset('qq', 'QQ Mail (QQ邮箱)', 'Authorisation code (授权码)', "Enable SMTP in QQ Mail's settings."),
  preset('custom', 'Other server', null, 'Any SMTP server.'),
];

const stages: StageReport[] = [
  {
    stage: 'dns',
    outcome: 'passed',
    duration_ms: 3,
    detail: { kind: 'resolved', host: '127.0.0.1', addresses: ['127.0.0.1'] },
    problem: null,
    code: null,
    enhanced_code: null,
    extensions: [],
  },
  {
    stage: 'connect',
    outcome: 'failed',
    duration_ms: 1250,
    detail: { kind: 'failed', failure: refused },
    problem: 'refused',
    code: null,
    enhanced_code: null,
    extensions: [],
  },
];
const diagnosis: Diagnosis = {
  host: '127.0.0.1',
  port: 2526,
  ok: false,
  stages,
  problem: 'refused',
};

const rate = { configured: 5, effective: 4.9, reason: null };
const run: Batch<CampaignEvent>[] = [
  {
    omitted: 0,
    events: [
      { type: 'started', campaign: 7, account: 'Sandbox', counts, uncertain_recovered: 1, rate: { configured: 5, effective: 5, reason: null } },
      { type: 'progress', counts, percent_done: 82, sent_per_second: 4.9, rate, eta_seconds: 86, elapsed_ms: 61_000, server_wait: null },
      { type: 'recipient', row: 7, email: 'nobody@example.com', status: 'failed', reason: { kind: 'smtp', failure: rejected, unanswered_before: false }, attempts: 1 },
      { type: 'recipient', row: 8, email: 'later@example.com', status: 'retry_wait', reason: { kind: 'smtp', failure: busy, unanswered_before: false }, attempts: 1 },
      { type: 'rate_changed', rate: { configured: 5, effective: 2.5, reason: '454 4.7.0 Throttling failure' } },
      { type: 'rate_changed', rate: { configured: 5, effective: 5, reason: null } },
      { type: 'quota_wait', until: at + 60_000, window: 'minute', limit: 300 },
      { type: 'account_changed', from: 'Sandbox', to: 'backup', why: { kind: 'suspended', until: at + 86_400_000, reason: { kind: 'rule', rule: 'gmail.daily_limit', failure: busy } } },
      { type: 'account_changed', from: 'backup', to: 'Sandbox', why: { kind: 'resumed' } },
      { type: 'account_changed', from: 'Sandbox', to: 'backup', why: { kind: 'unreachable', failure: refused, host: '127.0.0.1', port: 2526 } },
      { type: 'account_changed', from: 'backup', to: 'Sandbox', why: { kind: 'reachable' } },
      { type: 'account_changed', from: 'Sandbox', to: 'backup', why: { kind: 'auth_failed', failure: { ...rejected, stage: 'auth', problem: 'auth_failed', code: 535, enhanced_code: '5.7.8', text: 'Authentication credentials invalid' } } },
      { type: 'account_wait', account: 'Sandbox', until: at + 3_600_000, reason: { kind: 'quota', window: 'hour', limit: 100 } },
      { type: 'connection_trouble', failure: cancelled, host: '127.0.0.1', port: 2526, retry_in_ms: 15_000, attempt: 1, of: 3 },
      { type: 'connection_trouble', failure: refused, host: '127.0.0.1', port: 2526, retry_in_ms: 30_500, attempt: 2, of: 6 },
      { type: 'pausing', stopping: false, reason: { kind: 'by_you' } },
      { type: 'pausing', stopping: false, reason: campaign.pause_reason ?? { kind: 'by_you' } },
      { type: 'pausing', stopping: false, reason: { kind: 'no_answer_in_a_row', count: 3, last: silent, resending: false, timeout_ms: 120_000 } },
      { type: 'pausing', stopping: false, reason: { kind: 'unreachable', attempts: 8, failure: refused, host: '127.0.0.1', port: 2526 } },
      { type: 'pausing', stopping: false, reason: { kind: 'outage_too_long', attempts: 6, failure: refused, host: '127.0.0.1', port: 2526, limit_ms: 600_000 } },
      { type: 'pausing', stopping: false, reason: { kind: 'server', failure: { ...rejected, stage: 'auth', problem: 'auth_failed', code: 535, enhanced_code: '5.7.8', text: 'Authentication credentials invalid' }, host: 'smtp.qq.com', port: 465 } },
      { type: 'pausing', stopping: false, reason: { kind: 'disk_full' } },
      { type: 'finished', outcome: 'paused', reason: campaign.pause_reason, counts },
    ],
  },
];
const runReport: RunReport = { outcome: 'paused', reason: campaign.pause_reason, counts, accounts: ['Sandbox'] };

const captured: CapturedSummary = { id: 1, received_at: at, mail_from: 'news@example.com', rcpt_to: ['ann@example.com'], subject: 'Spring news', size: 900 };
const capturedMessage: CapturedMessage = {
  ...captured,
  from: 'News <news@example.com>',
  to: ['ann@example.com'],
  date: 'Mon, 23 Nov 2026 09:30:00 +0000',
  text: 'Hello Ann',
  html: null,
  headers: [['Subject', 'Spring news']],
  attachments: [],
  source: 'Subject: Spring news\r\n\r\nHello Ann',
};
/** The suppression list with an entry from every source. */
const suppressions: SuppressionPage = {
  total: 5,
  entries: [
    { email: 'nobody@example.com', reason: '550 5.1.1 User unknown', source: { kind: 'no_such_user' }, created_at: at },
    { email: 'gone@example.org', reason: 'hard bounce 5.1.1', source: { kind: 'bounce', account: 'Sandbox' }, created_at: at },
    { email: 'ann@example.com', reason: 'asked to unsubscribe, by reply', source: { kind: 'unsubscribe', account: 'Sandbox' }, created_at: at },
    { email: 'li@example.cn', reason: '', source: { kind: 'manual' }, created_at: at },
    { email: 'old@example.com', reason: '', source: { kind: 'imported', file: 'spring.csv' }, created_at: at },
  ],
};
const database: DatabaseInfo = { path: '/home/ann/.local/share/org.mailroom.desktop/mailroom.db', bytes: 81920 };

/** An account whose connection others could read: its warnings are said in the window's language. */
const exposed: Account = {
  ...account,
  id: 2,
  name: 'example',
  host: '192.0.2.10',
  port: 25,
  warnings: ['no_encryption', 'certificates_not_checked'],
  held_rate: null,
};

/** A recipient's file that cannot be attached, as the message would fail with it. */
const fileProblem = (problem: AttachmentProblem): TemplateError => ({ part: 'recipient', row: null, line: null, problem: { kind: 'attachment', problem } });
/** Saved, with every kind of recipient's file that cannot be attached listed (and one only not there yet). */
const messageCheck: MessageCheck = {
  fields: ['email', 'name', 'city'],
  missing_attachment_count: 8,
  missing_attachments: [
    { row: 2, email: 'ann@example.com', path: '/home/ann/files/ann.pdf', problem: null },
    { row: 3, email: 'li@example.cn', path: '/home/ann/secret.pdf', problem: fileProblem({ kind: 'outside_folder', name: '/home/ann/secret.pdf', folder: '/home/ann/files' }) },
    { row: 4, email: 'bo@example.org', path: '/home/ann/files/out.pdf', problem: fileProblem({ kind: 'link_outside_folder', path: '/home/ann/files/out.pdf', folder: '/home/ann/files' }) },
    { row: 5, email: 'cy@example.org', path: '/home/ann/files/m.db', problem: fileProblem({ kind: 'own_file', path: '/home/ann/files/m.db' }) },
    { row: 6, email: 'di@example.org', path: '/home/ann/files/pipe', problem: fileProblem({ kind: 'not_a_file', path: '/home/ann/files/pipe' }) },
    { row: 7, email: 'ed@example.org', path: '/home/ann/files/big.pdf', problem: fileProblem({ kind: 'too_large', path: '/home/ann/files/big.pdf', bytes: 209_715_200, limit: 104_857_600 }) },
    { row: 8, email: 'fa@example.org', path: '/home/ann/files/locked.pdf', problem: fileProblem({ kind: 'permission_denied', path: '/home/ann/files/locked.pdf' }) },
    {
      row: 9,
      email: 'gu@example.org',
      path: '/home/ann/files/odd.pdf',
      problem: fileProblem({ kind: 'unreadable', path: '/home/ann/files/odd.pdf', detail: 'Input/output error (os error 5)' }),
    },
  ],
  message_bytes: 2048,
};
const previewed: Preview = {
  message: {
    row: 2,
    to: 'ann@example.com',
    subject: 'Hello Ann',
    text: 'Hello Ann, Oslo',
    html: null,
    message_id: '<mailroom.1.2.abc@example.com>',
    attachments: [],
  },
  source: null,
  skipped: null,
};
/** A row skipped at import: the preview says why, in the window's language. */
const previewedSkipped: Preview = {
  message: null,
  source: null,
  skipped: { row: 3, email: 'bob-at-example.com', reason: { kind: 'invalid_address', problem: 'missing_at' } },
};

const templateError = (error: TemplateError): IpcError => ({ kind: 'template', message: 'the English detail, for the log', template: error });
/** What saving or previewing a message can meet, one of each kind worth seeing. */
const templateErrors: IpcError[] = [
  templateError({ part: 'text', row: null, line: 2, problem: { kind: 'unclosed', text: 'Hello {{ name' } }),
  templateError({ part: 'html', row: null, line: 3, problem: { kind: 'syntax', cause: 'syntax', text: '{{ name ) }}', detail: 'unexpected `)`' } }),
  templateError({
    part: 'subject',
    row: null,
    line: 1,
    problem: { kind: 'unknown_field', name: 'nmae', suggestion: 'name', fields: ['email', 'name', 'city'] },
  }),
  templateError({ part: 'text', row: null, line: 4, problem: { kind: 'unknown_filter', name: 'uper', suggestion: 'upper' } }),
  templateError({ part: 'text', row: null, line: 1, problem: { kind: 'not_available', construct: 'concat' } }),
  templateError({ part: 'subject', row: null, line: null, problem: { kind: 'empty_subject' } }),
  templateError({ part: 'text', row: null, line: null, problem: { kind: 'no_body' } }),
  templateError({ part: 'subject', row: null, line: null, problem: { kind: 'too_long', bytes: 16_500, limit: 16_384 } }),
  templateError({
    part: 'attachment_column',
    row: null,
    line: null,
    problem: { kind: 'unknown_column', name: 'cty', suggestion: 'city', columns: ['name', 'email', 'city'] },
  }),
  templateError({ part: 'sender', row: null, line: null, problem: { kind: 'bad_address', role: 'sender', address: 'news@example..com', problem: 'bad_domain' } }),
  // The preview's "Invalid email domain": a recipient's address the mail cannot carry.
  templateError({ part: 'recipient', row: 3, line: null, problem: { kind: 'bad_address', role: 'recipient', address: 'ann@example..com', problem: 'bad_domain' } }),
  templateError({ part: 'text', row: 2, line: 1, problem: { kind: 'too_large', made: 'value', bytes: 2_000_000, limit: 1_048_576 } }),
  templateError({ part: 'text', row: 2, line: 1, problem: { kind: 'render', cause: 'out_of_fuel', detail: 'engine ran out of fuel' } }),
  templateError({ part: 'subject', row: 2, line: null, problem: { kind: 'output_too_long', limit: 16_384 } }),
  // A recipient's own file, made for its row.
  templateError({ part: 'recipient', row: 4, line: null, problem: { kind: 'attachment', problem: { kind: 'missing', path: '/home/ann/files/bo.pdf' } } }),
];

/** A file for everyone that cannot be attached: the kind's sentence and the typed problem. */
const attachmentError = (attachment: AttachmentProblem): IpcError => ({ kind: 'attachment_unreadable', message: 'the English detail, for the log', attachment });
const attachmentErrors: IpcError[] = [
  attachmentError({ kind: 'own_file', path: '/home/ann/.local/share/org.mailroom.desktop/mailroom.db' }),
  attachmentError({ kind: 'grew_too_large', path: '/home/ann/files/growing.log', limit: 104_857_600 }),
  attachmentError({ kind: 'folder_unreadable', folder: '/home/ann/files', detail: 'Permission denied (os error 13)' }),
  attachmentError({ kind: 'no_folder' }),
];

/** What each command answers; messages sent on a command's channel before it answers. */
export const outcomesScenario = {
  results: {
    database_location: database.path,
    database_info: database,
    list_campaigns: [campaign],
    'plugin:dialog|open': '/home/ann/lists/spring.csv',
    preview_import: preview,
    import_recipients: report,
    list_recipients: recipients,
    list_accounts: [account, exposed],
    campaign_accounts: [account.name],
    resume_account: true,
    default_account: account.name,
    merge_fields: ['name', 'email', 'city'],
    send_plan: { campaign: campaign.name, recipients: 1988, accounts: [account.name], from: 'news@example.org', per_second: 5, seconds: 398 } satisfies SendPlan,
    smtp_presets: presets,
    secret_store_notice: null,
    test_account: diagnosis,
    preset_settings: { ...settingsOf(account), name: 'QQ Mail (QQ邮箱)', preset: 'qq', host: 'smtp.qq.com', port: 465, security: 'tls', auth: 'plain' } satisfies AccountSettings,
    list_templates: [],
    get_message: null,
    save_message: messageCheck,
    preview_message: previewed,
    start_campaign: runReport,
    list_captured: [captured],
    captured_message: capturedMessage,
    list_suppressions: suppressions,
  } satisfies Record<string, unknown>,
  messages: {
    // The engine's coalescer sends the steps in one batch when they come at once.
    test_account: [{ events: stages, omitted: 0 }] satisfies Batch<StageReport>[],
    start_campaign: run,
  } satisfies Record<string, unknown[]>,
  /** What a test walks through one after another (`answer`, `fail`). */
  cases: {
    previewSkipped: previewedSkipped,
    templateErrors,
    attachmentErrors,
  },
};
