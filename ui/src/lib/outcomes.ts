// What the engine reports as data (a recipient's reason, a pause reason, a
// run's events, an SMTP failure), said in the current language from the
// catalogs. Nothing here is kept as text: the Campaign screen keeps the
// events themselves, so switching the language re-says them all.
import type { AccountChange } from './bindings/AccountChange';
import type { AttachmentProblem } from './bindings/AttachmentProblem';
import type { CampaignEvent } from './bindings/CampaignEvent';
import type { Failure } from './bindings/Failure';
import type { MailboxFailure } from './bindings/MailboxFailure';
import type { MailboxStageDetail } from './bindings/MailboxStageDetail';
import type { PauseReason } from './bindings/PauseReason';
import type { RecipientReason } from './bindings/RecipientReason';
import type { RateState } from './bindings/RateState';
import type { RuleAction } from './bindings/RuleAction';
import type { ServerWait } from './bindings/ServerWait';
import type { StageDetail } from './bindings/StageDetail';
import type { TemplateError } from './bindings/TemplateError';
import type { TlsSummary } from './bindings/TlsSummary';
import type { TemplateProblem } from './bindings/TemplateProblem';
import type { SuspensionReason } from './bindings/SuspensionReason';
import { formatBytes, formatDuration, formatNumber, formatRate, formatTime, formatWeekdayTime, quote, t } from './i18n/index.svelte';

/** Problems whose text is Mailroom's own wording, not the server's or the system's: the label says it all. */
const OWN_WORDS = new Set<Failure['problem']>(['timed_out', 'no_greeting', 'cancelled']);

/**
 * A campaign's accounts in the order they send, each quoted: “A”; “A”, then
 * “B” when “A” is suspended; and so on (the engine's failover decides; this
 * only says it).
 */
export function describeAccounts(names: readonly string[]): string {
  const [first, second, ...more] = names.map(quote);
  if (first === undefined) return '';
  if (second === undefined) return first;
  if (more.length === 0) return t('accounts.inTurnTwo', { first, second });
  return t('accounts.inTurnMany', { first, rest: [second, ...more].join(t('accounts.separator')) });
}

/** A failed SMTP step: what went wrong, the server's code and its own words (quoted, as they came). */
export function describeFailure(failure: Failure): string {
  const what = t(`failure.${failure.problem}`);
  if (failure.code !== null) {
    const code = [String(failure.code), failure.enhanced_code].filter(Boolean).join(' ');
    const said = t('failure.withReply', { what, code, text: quote(failure.text) });
    return failure.rule ? t('failure.byRule', { said, rule: failure.rule }) : said;
  }
  if (OWN_WORDS.has(failure.problem) || failure.text === '') return what;
  return t('failure.withDetail', { what, detail: quote(failure.text) });
}

/** What a provider rule does, in the window's language. */
export function describeRuleAction(action: RuleAction): string {
  switch (action.do) {
    case 'slow_down':
      return action.factor === undefined
        ? t('rules.action.slow_down_found')
        : t('rules.action.slow_down', { factor: formatNumber(action.factor) });
    case 'suspend':
      return t('rules.action.suspend', { wait: formatDuration(action.for_s * 1000) });
    case 'suspend_until':
      return t('rules.action.suspend_until', { time: action.time, zone: action.time_zone });
    case 'suspend_window':
      return t('rules.action.suspend_window', { window: formatDuration(action.window_s * 1000) });
    case 'retry_later':
      return t('rules.action.retry_later', { wait: formatDuration(action.after_s * 1000) });
    case 'pause':
      return action.advice ? t('rules.action.pauseWith', { advice: quote(action.advice) }) : t('rules.action.pause');
    case 'fail':
      return t(action.suppress ? 'rules.action.failSuppress' : 'rules.action.fail');
    default:
      return t(`rules.action.${action.do}`);
  }
}

/** What a person can do about a failure at `host:port`. */
export function adviceFor(failure: Failure, host: string, port: number): string {
  return t(`problem.${failure.problem}`, { host, port });
}

/** Why a recipient is skipped, failed, waiting or uncertain. */
export function describeRecipientReason(reason: RecipientReason): string {
  switch (reason.kind) {
    case 'invalid_address':
      return t('recipientReason.invalid_address', { problem: t(`reason.${reason.problem}`) });
    case 'duplicate':
      return t('recipientReason.duplicate', { row: formatNumber(reason.first_row) });
    case 'smtp': {
      const failure = describeFailure(reason.failure);
      return reason.unanswered_before ? t('recipientReason.smtp', { failure }) + t('recipientReason.unansweredBefore') : t('recipientReason.smtp', { failure });
    }
    case 'gave_up':
    case 'gave_up_maybe_delivered':
      return t(`recipientReason.${reason.kind}`, { count: reason.attempts, failure: describeFailure(reason.last) });
    case 'no_answer_resending':
    case 'no_answer':
      return t(`recipientReason.${reason.kind}`, { failure: describeFailure(reason.failure) });
    case 'unrenderable':
      // Typed since the problem was kept; the English detail before that.
      return t('recipientReason.unrenderable', {
        detail: reason.problem ? describeTemplateError(reason.problem) : quote(reason.detail),
      });
    case 'bounced':
    {
      const said = t('recipientReason.bounced', {
        bounce: t(`bounceKind.${reason.bounce}`),
        code: reason.status ?? '',
        diagnostic: quote(reason.diagnostic),
      });
      return reason.reporting_mta === null ? said : t('recipientReason.bouncedBy', { said, mta: quote(reason.reporting_mta) });
    }
    case 'legacy':
      return t('recipientReason.legacy', { text: reason.text });
    case 'suppressed':
      // The list's reason: a server's words or what a person wrote, quoted as given.
      return reason.reason === null ? t('recipientReason.suppressed') : t('recipientReason.suppressedBecause', { reason: quote(reason.reason) });
    default:
      return t(`recipientReason.${reason.kind}`);
  }
}

/** Why an account is suspended: a provider rule's reply, or its own quota. */
export function describeSuspension(reason: SuspensionReason): string {
  switch (reason.kind) {
    case 'rule':
      return describeFailure(reason.failure);
    case 'quota':
      return t('failover.reasonQuota', { limit: formatNumber(reason.limit), window: t(`quotaWindow.${reason.window}`) });
  }
}

/** Why sending moved from one of the campaign's accounts to another. */
export function describeAccountChange(why: AccountChange): string {
  switch (why.kind) {
    case 'suspended':
      return t('failover.whySuspended', { at: formatTime(why.until), reason: describeSuspension(why.reason) });
    case 'auth_failed':
      return t('failover.whyAuthFailed', { failure: describeFailure(why.failure) });
    case 'unreachable':
      return t('failover.whyUnreachable', { host: why.host, port: why.port, failure: describeFailure(why.failure) });
    case 'resumed':
      return t('failover.whyResumed');
    case 'reachable':
      return t('failover.whyReachable');
  }
}

/** Why a campaign paused. */
export function describePause(reason: PauseReason): string {
  switch (reason.kind) {
    case 'server':
      return t('pauseReason.server', { failure: describeFailure(reason.failure), advice: adviceFor(reason.failure, reason.host, reason.port) });
    case 'unreachable':
      return t('pauseReason.unreachable', {
        count: reason.attempts,
        failure: describeFailure(reason.failure),
        advice: adviceFor(reason.failure, reason.host, reason.port),
      });
    case 'outage_too_long':
      return t('pauseReason.outage_too_long', {
        limit: formatDuration(reason.limit_ms),
        count: reason.attempts,
        failure: describeFailure(reason.failure),
        advice: adviceFor(reason.failure, reason.host, reason.port),
      });
    case 'rule':
      return t('pauseReason.rule', { failure: describeFailure(reason.failure), advice: quote(reason.advice) });
    case 'failures_in_a_row':
      return t('pauseReason.failures_in_a_row', { count: reason.count, last: describeRecipientReason(reason.last) });
    case 'no_answer_in_a_row':
      return t('pauseReason.no_answer_in_a_row', {
        count: reason.count,
        failure: describeFailure(reason.last),
        what: t(reason.resending ? 'pauseReason.resending' : 'pauseReason.markedUncertain', { count: reason.count }),
        timeout: formatDuration(reason.timeout_ms),
      });
    case 'version_unavailable':
      return t('pauseReason.version_unavailable', { row: formatNumber(reason.row), version: reason.version, detail: quote(reason.detail) });
    case 'database_unwritable':
    case 'internal':
      return t(`pauseReason.${reason.kind}`, { detail: quote(reason.detail) });
    case 'error':
      return t('pauseReason.error', { error: t(`error.${reason.error}`), detail: quote(reason.detail) });
    case 'uncertain':
    case 'still_waiting':
    case 'uncertain_to_resend':
    case 'failed_to_resend':
    case 'bounced_to_resend':
      return t(`pauseReason.${reason.kind}`, { count: reason.count });
    case 'moved_to_account':
      return t('pauseReason.moved_to_account', { account: quote(reason.account), why: describeAccountChange(reason.why) });
    case 'legacy':
      return t('pauseReason.legacy', { text: reason.text });
    default:
      return t(`pauseReason.${reason.kind}`);
  }
}

/** "Waiting for the server — next try in 27 s (3rd of 8)": shown instead of a live rate while no connection opens. */
export function describeServerWait(wait: ServerWait): string {
  return t('campaign.waitingForServer', {
    wait: formatDuration(Math.max(1000, Math.ceil(wait.next_try_in_ms / 1000) * 1000)),
    attempt: formatNumber(wait.attempt + 1),
    of: formatNumber(wait.of),
    failure: describeFailure(wait.failure),
  });
}

/** A rate as the Campaign screen shows it: "5.0/s", "每秒 4.9 封", or none. */
export function describeRate(rate: RateState | null): string {
  return rate?.effective == null ? t('campaign.unlimited') : formatRate(rate.effective);
}

/** One line of the Campaign screen's latest events; null for events that are figures, not news. */
export function describeEvent(event: CampaignEvent): string | null {
  switch (event.type) {
    case 'started': {
      const started = t('campaign.startedNote', { account: event.account });
      const recovered = Number(event.uncertain_recovered);
      return recovered > 0 ? `${started} ${t('campaign.recovered', { count: recovered })}` : started;
    }
    case 'recipient':
      return event.reason
        ? t('campaign.recipientNote', { status: t(`recipientStatus.${event.status}`), email: event.email, reason: describeRecipientReason(event.reason) })
        : null;
    case 'rate_changed':
      return event.rate.reason
        ? t('campaign.rateChanged', { rate: describeRate(event.rate), reason: quote(event.rate.reason) })
        : t('campaign.rateRecovered', { rate: describeRate(event.rate) });
    case 'quota_wait':
      return t('campaign.quotaWait', {
        limit: formatNumber(event.limit),
        window: t(`quotaWindow.${event.window}`),
        at: formatTime(event.until),
      });
    case 'window_wait':
      return t('schedule.waitingWindow', { at: formatWeekdayTime(Number(event.opens_at), event.time_zone) });
    case 'connection_trouble':
      return t('campaign.connectionTrying', {
        failure: describeFailure(event.failure),
        advice: adviceFor(event.failure, event.host, event.port),
        wait: formatDuration(event.retry_in_ms),
        attempt: formatNumber(event.attempt),
        of: formatNumber(event.of),
      });
    case 'suspended':
      return t('campaign.suspended', { at: formatTime(event.until), rule: event.rule, failure: describeFailure(event.failure) });
    case 'account_changed':
      return t('campaign.accountChanged', { from: quote(event.from), to: quote(event.to), why: describeAccountChange(event.why) });
    case 'account_wait':
      return t('campaign.accountWait', {
        account: quote(event.account),
        at: formatTime(event.until),
        reason: describeSuspension(event.reason),
      });
    case 'connections_reduced':
      return t('campaign.connectionsReduced', { count: event.connections, rule: event.rule, failure: describeFailure(event.failure) });
    case 'pausing':
      if (event.reason.kind === 'by_you') return t(event.stopping ? 'campaign.stoppingNote' : 'campaign.pausingNote');
      return t('campaign.pausingBecause', { reason: describePause(event.reason) });
    case 'finished':
      if (event.reason) return describePause(event.reason);
      return event.outcome === 'completed' ? t('campaign.completedNote') : t(`campaignStatus.${event.outcome}`);
    case 'progress':
      return null;
  }
}

/** The steps both Test connections share: the name looked up, the connection made. */
function describeReach(
  detail: Extract<StageDetail | MailboxStageDetail, { kind: 'resolved' | 'connected' }>,
): string {
  if (detail.kind === 'resolved') {
    return t('stageDetail.resolved', { host: detail.host, addresses: detail.addresses.join(', ') });
  }
  return detail.peer ? t('stageDetail.connected', { peer: detail.peer }) : t('stageDetail.connectedSomewhere');
}

/** What a Test connection stage found. */
export function describeStage(detail: StageDetail): string {
  switch (detail.kind) {
    case 'resolved':
    case 'connected':
      return describeReach(detail);
    case 'encrypted':
      return detail.tls ? describeTls(detail.tls) : t('stageDetail.encryptedUnknown');
    case 'greeting':
      return quote(detail.reply);
    case 'extensions': {
      const parts = [...detail.keywords];
      if (detail.max_size !== null) parts.push(t('stageDetail.size', { size: formatBytes(detail.max_size) }));
      return parts.length > 0 ? parts.join(', ') : t('stageDetail.noExtensions');
    }
    case 'starttls_unused':
      return t('stageDetail.starttls_unused');
    case 'logged_in':
      return detail.mechanism
        ? t('stageDetail.logged_in', { user: detail.user, mechanism: detail.mechanism })
        : t('stageDetail.noLoginNeeded');
    case 'sent':
      return t('stageDetail.sent', { to: detail.to, reply: quote(detail.reply) });
    case 'failed':
      return describeFailure(detail.failure);
  }
}

/** An encrypted session: protocol, certificate and when it expires. */
function describeTls(tls: TlsSummary): string {
  let text = t('stageDetail.encrypted', { protocol: tls.protocol });
  if (tls.subject) text += t('stageDetail.certificate', { subject: tls.subject });
  if (tls.expires && tls.days_left !== null) {
    text += t('stageDetail.expires', { date: formatDate(tls.expires), count: Number(tls.days_left) });
  }
  return text;
}

/** Mailbox failures whose text is Mailroom's own wording, not the server's or the system's: said in the window's language instead. */
function mailboxOwnWords(failure: MailboxFailure): string | null {
  switch (failure.problem) {
    case 'cancelled':
      return t('mailboxStageDetail.cancelled');
    case 'timed_out':
    case 'no_greeting':
      return t('mailboxStageDetail.noAnswer');
    case 'not_imap':
      return t('mailboxStageDetail.notImap');
    default:
      return null;
  }
}

/** What a mailbox Test connection step found; the server's words quoted as they came. */
export function describeMailboxStage(detail: MailboxStageDetail): string {
  switch (detail.kind) {
    case 'resolved':
    case 'connected':
      return describeReach(detail);
    case 'encrypted':
      return describeTls(detail.tls);
    case 'greeting':
      return quote(detail.reply);
    case 'logged_in':
      return t('mailboxStageDetail.logged_in', { user: detail.user });
    case 'selected':
      return t('mailboxStageDetail.selected', { folder: detail.folder, count: detail.messages });
    case 'failed':
      return mailboxOwnWords(detail.failure) ?? quote(detail.failure.text);
  }
}

/** A certificate's expiry day (`2027-03-01`) as the current language writes a date. */
function formatDate(day: string): string {
  const parsed = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(parsed) ? day : new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: 'medium', timeZone: 'UTC' }).format(parsed);
}

/** " Did you mean “x”?", or nothing when no name is near. */
function didYouMean(suggestion: string | null): string {
  return suggestion === null ? '' : t('template.didYouMean', { suggestion: quote(suggestion) });
}

/** What is wrong with a template, in the current language; names, code and text from the template quoted as written. */
export function describeTemplateProblem(problem: TemplateProblem): string {
  switch (problem.kind) {
    case 'too_long':
      return t('template.problem.too_long', { bytes: formatBytes(problem.bytes), limit: formatBytes(problem.limit) });
    case 'unclosed':
      return t('template.problem.unclosed', { text: quote(problem.text) });
    case 'syntax': {
      const cause = t(`template.cause.${problem.cause}`);
      return problem.text === '' ? cause : t('template.problem.syntax', { cause, text: quote(problem.text) });
    }
    case 'not_available':
      return t(`template.construct.${problem.construct}`, { code: quote(CONSTRUCT_EXAMPLE[problem.construct] ?? '') });
    case 'unknown_field':
      return t('template.problem.unknown_field', {
        name: quote(problem.name),
        didYouMean: didYouMean(problem.suggestion),
        list: problem.fields.join(', '),
      });
    case 'unknown_filter':
    case 'unknown_test':
      return t(`template.problem.${problem.kind}`, { name: quote(problem.name), didYouMean: didYouMean(problem.suggestion) });
    case 'unknown_column':
      return t('template.problem.unknown_column', {
        name: quote(problem.name),
        didYouMean: didYouMean(problem.suggestion),
        list: problem.columns.join(', '),
      });
    case 'bad_address':
      return t('template.problem.bad_address', {
        role: t(`template.role.${problem.role}`),
        address: quote(problem.address),
        problem: t(`reason.${problem.problem}`),
      });
    case 'output_too_long':
      return t('template.problem.output_too_long', { limit: formatBytes(problem.limit) });
    case 'too_large':
      return t(`template.problem.too_large.${problem.made}`, { bytes: formatBytes(problem.bytes), limit: formatBytes(problem.limit) });
    case 'render':
      return t('template.problem.render', { cause: t(`template.cause.${problem.cause}`) });
    case 'attachment':
      return t('template.problem.attachment', { detail: describeAttachmentProblem(problem.problem) });
    default:
      return t(`template.problem.${problem.kind}`);
  }
}

/** The template code a refusal suggests instead (code, so the same in every language). */
const CONSTRUCT_EXAMPLE: Partial<Record<Extract<TemplateProblem, { kind: 'not_available' }>['construct'], string>> = {
  set_block: '{% set name = … %}',
  filter_block: '{{ name | upper }}',
  set_target: '{% set name = … %}',
  concat: '{{ a }} {{ b }}',
  add_text: '{{ a }} {{ b }}',
};

/** Why a file cannot be attached; its path or name and the system's words quoted as they came. */
export function describeAttachmentProblem(problem: AttachmentProblem): string {
  switch (problem.kind) {
    case 'missing':
    case 'own_file':
    case 'not_a_file':
    case 'permission_denied':
      return t(`attachment.${problem.kind}`, { path: quote(problem.path) });
    case 'no_folder':
      return t('attachment.no_folder');
    case 'outside_folder':
      return t('attachment.outside_folder', { name: quote(problem.name), folder: quote(problem.folder) });
    case 'link_outside_folder':
      return t('attachment.link_outside_folder', { path: quote(problem.path), folder: quote(problem.folder) });
    case 'too_large':
      return t('attachment.too_large', { path: quote(problem.path), size: formatBytes(problem.bytes), limit: formatBytes(problem.limit) });
    case 'grew_too_large':
      return t('attachment.grew_too_large', { path: quote(problem.path), limit: formatBytes(problem.limit) });
    case 'unreadable':
      return t('attachment.unreadable', { path: quote(problem.path), detail: quote(problem.detail) });
    case 'folder_unreadable':
      return t('attachment.folder_unreadable', { folder: quote(problem.folder), detail: quote(problem.detail) });
  }
}

/**
 * Why a recipient's own file cannot be attached, as the Message screen lists
 * it: what is wrong with the file, or with the file name its template made.
 */
export function describeFileProblem(error: TemplateError): string {
  return error.problem.kind === 'attachment' ? describeAttachmentProblem(error.problem.problem) : describeTemplateError(error);
}

/** A template problem with where it is: the row it was made for, the part and the line. */
export function describeTemplateError(error: TemplateError): string {
  const part = t(`template.part.${error.part}`);
  let where = error.line === null ? t('template.at', { part }) : t('template.atLine', { part, line: formatNumber(error.line) });
  if (error.row !== null) where = t('template.forRow', { row: formatNumber(error.row), where });
  return t('template.said', { where, problem: describeTemplateProblem(error.problem) });
}
