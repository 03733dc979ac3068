// What the engine reports as data (a recipient's reason, a pause reason, a
// run's events, an SMTP failure), said in the current language from the
// catalogs. Nothing here is kept as text: the Campaign screen keeps the
// events themselves, so switching the language re-says them all.
import type { CampaignEvent } from './bindings/CampaignEvent';
import type { Failure } from './bindings/Failure';
import type { PauseReason } from './bindings/PauseReason';
import type { RecipientReason } from './bindings/RecipientReason';
import type { RateState } from './bindings/RateState';
import type { StageDetail } from './bindings/StageDetail';
import { formatBytes, formatDuration, formatNumber, formatRate, formatTime, quote, t } from './i18n/index.svelte';

/** Problems whose text is Mailroom's own wording, not the server's or the system's: the label says it all. */
const OWN_WORDS = new Set<Failure['problem']>(['timed_out', 'no_greeting', 'cancelled']);

/** A failed SMTP step: what went wrong, the server's code and its own words (quoted, as they came). */
export function describeFailure(failure: Failure): string {
  const what = t(`failure.${failure.problem}`);
  if (failure.code !== null) {
    const code = [String(failure.code), failure.enhanced_code].filter(Boolean).join(' ');
    return t('failure.withReply', { what, code, text: quote(failure.text) });
  }
  if (OWN_WORDS.has(failure.problem) || failure.text === '') return what;
  return t('failure.withDetail', { what, detail: quote(failure.text) });
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
      return t(`recipientReason.${reason.kind}`, { attempts: formatNumber(reason.attempts), failure: describeFailure(reason.last) });
    case 'no_answer_resending':
    case 'no_answer':
      return t(`recipientReason.${reason.kind}`, { failure: describeFailure(reason.failure) });
    case 'unrenderable':
      return t('recipientReason.unrenderable', { detail: quote(reason.detail) });
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
    default:
      return t(`recipientReason.${reason.kind}`);
  }
}

/** Why a campaign paused. */
export function describePause(reason: PauseReason): string {
  switch (reason.kind) {
    case 'server':
      return t('pauseReason.server', { failure: describeFailure(reason.failure), advice: adviceFor(reason.failure, reason.host, reason.port) });
    case 'unreachable':
      return t('pauseReason.unreachable', {
        attempts: formatNumber(reason.attempts),
        failure: describeFailure(reason.failure),
        advice: adviceFor(reason.failure, reason.host, reason.port),
      });
    case 'failures_in_a_row':
      return t('pauseReason.failures_in_a_row', { count: formatNumber(reason.count), last: describeRecipientReason(reason.last) });
    case 'no_answer_in_a_row':
      return t('pauseReason.no_answer_in_a_row', {
        count: formatNumber(reason.count),
        failure: describeFailure(reason.last),
        what: t(reason.resending ? 'pauseReason.resending' : 'pauseReason.markedUncertain'),
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
      return t(`pauseReason.${reason.kind}`, { count: formatNumber(reason.count) });
    case 'legacy':
      return t('pauseReason.legacy', { text: reason.text });
    default:
      return t(`pauseReason.${reason.kind}`);
  }
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
      return recovered > 0 ? `${started} ${t('campaign.recovered', { count: formatNumber(recovered) })}` : started;
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
    case 'connection_trouble':
      return t('campaign.connectionTrouble', {
        failure: describeFailure(event.failure),
        advice: adviceFor(event.failure, event.host, event.port),
        wait: formatDuration(event.retry_in_ms),
      });
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

/** What a Test connection stage found. */
export function describeStage(detail: StageDetail): string {
  switch (detail.kind) {
    case 'resolved':
      return t('stageDetail.resolved', { host: detail.host, addresses: detail.addresses.join(', ') });
    case 'connected':
      return detail.peer ? t('stageDetail.connected', { peer: detail.peer }) : t('stageDetail.connectedSomewhere');
    case 'encrypted': {
      const tls = detail.tls;
      if (!tls) return t('stageDetail.encryptedUnknown');
      let text = t('stageDetail.encrypted', { protocol: tls.protocol });
      if (tls.subject) text += t('stageDetail.certificate', { subject: tls.subject });
      if (tls.expires && tls.days_left !== null) {
        text += t('stageDetail.expires', { date: formatDate(tls.expires), days: formatNumber(Number(tls.days_left)) });
      }
      return text;
    }
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

/** A certificate's expiry day (`2027-03-01`) as the current language writes a date. */
function formatDate(day: string): string {
  const parsed = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(parsed) ? day : new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: 'medium', timeZone: 'UTC' }).format(parsed);
}
