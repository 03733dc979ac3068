// English messages: the reference catalog. Every other language must have
// exactly these keys (zh-CN.ts is typed against this file).
import type { ErrorKind } from '../bindings/ErrorKind';
import type { InvalidReason } from '../bindings/InvalidReason';

export const en = {
  'app.name': 'Mailroom',
  'app.tagline': 'Bulk mail with nothing lost',
  'nav.recipients': 'Recipients',
  'nav.smtp': 'SMTP',
  'nav.message': 'Message',
  'nav.campaign': 'Campaign',
  'nav.results': 'Results',
  'language.label': 'Language',
  'status.database': 'Database: {path}',

  'recipients.title': 'Recipients',
  'recipients.intro':
    'Import the list you want to write to. Mailroom checks every row, tells you which ones it will skip and why, and never changes your file.',
  'recipients.drop': 'Drop a CSV file here',
  'recipients.dropActive': 'Release to import',
  'recipients.or': 'or',
  'recipients.choose': 'Choose file…',
  'recipients.dialogTitle': 'Choose a recipient list',
  'recipients.filterName': 'Recipient lists (CSV, TSV, TXT)',
  'recipients.importing': 'Importing {file}…',
  'recipients.saved': 'Saved as draft campaign “{name}” (#{id}) from {file}.',
  'recipients.delimiterTab': 'tab',
  'recipients.detected': 'Encoding {encoding} · delimiter “{delimiter}” · email column “{column}”',
  'recipients.count.rows': 'Rows',
  'recipients.count.valid': 'Valid',
  'recipients.count.invalid': 'Invalid',
  'recipients.count.duplicates': 'Duplicates',
  'recipients.count.suppressed': 'Suppressed',
  'recipients.preview': 'First rows',
  'recipients.previewNote': 'The first {shown} of {total} rows, exactly as imported.',
  'recipients.problems': 'Rows that will not be sent',
  'recipients.noProblems': 'Every row has a usable, unique address.',
  'recipients.column.row': 'Row',
  'recipients.column.value': 'Address',
  'recipients.column.reason': 'Why',
  'recipients.another': 'Import another file',
  'recipients.errorTitle': 'This file was not imported',

  'reason.empty': 'The address is empty',
  'reason.spaces': 'The address contains spaces',
  'reason.missing_at': 'The address has no @',
  'reason.bad_local_part': 'The part before the @ is not valid',
  'reason.bad_domain': 'The domain after the @ is not valid',
  'reason.too_long': 'The address is longer than 254 characters',
  'reason.too_many_values': 'The row has more values than the header has columns',
  'reason.duplicate': 'Duplicate of row {row}',
  'reason.suppressed': 'On the suppression list',

  'error.file_unreadable': 'The file could not be read.',
  'error.empty_file': 'The file is empty.',
  'error.no_email_column': 'No column with email addresses was found.',
  'error.unknown_column': 'That column is not in the file.',
  'error.malformed_file': 'The file could not be read as a spreadsheet.',
  'error.unknown_encoding': 'Mailroom does not know that encoding.',
  'error.bad_delimiter': 'That cannot be a delimiter: use , ; | or tab.',
  'error.no_recipients': 'The file has a header row but no recipients.',
  'error.database_unavailable': 'Mailroom cannot open its database.',
  'error.database_too_new': 'The database was written by a newer version of Mailroom.',
  'error.campaign_not_found': 'That campaign no longer exists.',
  'error.database': 'The database reported a problem.',
  'error.internal': 'Something went wrong inside Mailroom.',

  'smtp.title': 'SMTP accounts',
  'smtp.intro':
    'Sending accounts with provider presets, timeouts and a step-by-step Test connection are being built. Until then Mailroom cannot send.',
  'message.title': 'Message',
  'message.intro':
    'The message composer, with merge fields from your recipient columns, attachments and a live preview, is being built.',
  'campaign.title': 'Campaign',
  'campaign.intro': 'The latest campaign and where each of its recipients stands.',
  'campaign.none': 'No campaign yet: import a recipient list first.',
  'campaign.status': 'Status',
  'results.title': 'Results',
  'results.intro': 'Every campaign, with each recipient counted by state.',
  'results.none': 'No campaigns yet.',
  'results.column.name': 'Campaign',
  'results.column.created': 'Created',
  'results.column.total': 'Recipients',

  'campaignStatus.draft': 'Draft',
  'campaignStatus.running': 'Running',
  'campaignStatus.paused': 'Paused',
  'campaignStatus.completed': 'Completed',
  'campaignStatus.stopped': 'Stopped',
  'recipientStatus.pending': 'Pending',
  'recipientStatus.sending': 'Sending',
  'recipientStatus.sent': 'Sent',
  'recipientStatus.retry_wait': 'Retrying',
  'recipientStatus.failed': 'Failed',
  'recipientStatus.skipped': 'Skipped',
  'recipientStatus.cancelled': 'Cancelled',
  'recipientStatus.uncertain': 'Uncertain',
} as const;

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

// Compile-time proof that every error kind and invalid-address reason the
// engine can send has a message.
en satisfies Record<`error.${ErrorKind}`, string>;
en satisfies Record<`reason.${InvalidReason}`, string>;
