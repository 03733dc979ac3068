// The campaign sending from this window, kept outside the Campaign screen so
// that leaving the screen and coming back finds the run, its controls and its
// latest figures (the engine keeps sending either way). Display state only:
// every figure arrives from the engine, already committed.
import { api, type IpcError } from './api';
import type { CampaignEvent } from './bindings/CampaignEvent';
import type { EventBatch } from './bindings/EventBatch';
import type { RateState } from './bindings/RateState';
import type { RunOutcome } from './bindings/RunOutcome';
import type { StatusCounts } from './bindings/StatusCounts';
import { t } from './i18n/index.svelte';

export const live = $state<{
  campaignId: number | null;
  running: boolean;
  pausing: boolean;
  counts: StatusCounts | null;
  /** How far the run has got (0–100, from the engine), for the title and taskbar. */
  percentDone: number | null;
  sentPerSecond: number;
  rate: RateState | null;
  eta: number | null;
  log: string[];
  outcome: RunOutcome | null;
  error: IpcError | null;
  /** One point per progress snapshot: sent per second and failures so far, for the chart. */
  history: { sentPerSecond: number; failed: number }[];
}>({
  campaignId: null,
  running: false,
  pausing: false,
  counts: null,
  percentDone: null,
  sentPerSecond: 0,
  rate: null,
  eta: null,
  log: [],
  outcome: null,
  error: null,
  history: [],
});

/** Points kept for the chart (about two minutes at four snapshots a second). */
const HISTORY = 480;

export function describeRate(rate: RateState | null): string {
  return rate?.effective == null ? t('campaign.unlimited') : `${rate.effective.toFixed(1)}/s`;
}

function note(line: string) {
  live.log = [line, ...live.log].slice(0, 50);
}

function apply(event: CampaignEvent) {
  switch (event.type) {
    case 'started':
      live.counts = event.counts;
      live.rate = event.rate;
      note(t('campaign.startedNote', { account: event.account }));
      if (Number(event.uncertain_recovered) > 0) note(t('campaign.recovered', { count: String(event.uncertain_recovered) }));
      break;
    case 'progress':
      live.counts = event.counts;
      live.percentDone = event.percent_done;
      live.sentPerSecond = event.sent_per_second;
      live.rate = event.rate;
      live.eta = event.eta_seconds === null ? null : Number(event.eta_seconds);
      live.history = [...live.history.slice(-(HISTORY - 1)), { sentPerSecond: event.sent_per_second, failed: Number(event.counts.failed) }];
      break;
    case 'recipient':
      if (event.reason) note(`${t(`recipientStatus.${event.status}`)} · ${event.email} — ${event.reason}`);
      break;
    case 'rate_changed':
      live.rate = event.rate;
      note(t('campaign.rateChanged', { rate: describeRate(event.rate), reason: event.rate.reason ?? '' }));
      break;
    case 'quota_wait':
      note(
        t('campaign.quotaWait', {
          limit: String(event.limit),
          window: event.window,
          at: new Date(Number(event.until)).toLocaleString(),
        }),
      );
      break;
    case 'connection_trouble':
      note(`${event.reason}. ${event.advice}`);
      break;
    case 'pausing':
      note(event.reason);
      break;
    case 'finished':
      live.counts = event.counts;
      live.outcome = event.outcome;
      if (event.reason) note(event.reason);
      else if (event.outcome === 'completed') note(t('campaign.completedNote'));
      break;
  }
}

/** Selects which campaign the figures are about (when nothing is sending). */
export function show(campaignId: number, counts: StatusCounts | null) {
  if (live.running) return;
  if (live.campaignId !== campaignId) {
    live.log = [];
    live.history = [];
    live.outcome = null;
    live.sentPerSecond = 0;
    live.eta = null;
  }
  live.campaignId = campaignId;
  live.counts = counts;
}

/** Sends the campaign until it completes, pauses or stops. */
export async function start(campaignId: number, account: string | null, name: string) {
  live.campaignId = campaignId;
  live.running = true;
  live.pausing = false;
  live.percentDone = null;
  live.outcome = null;
  live.error = null;
  try {
    const report = await api.startCampaign(campaignId, account, (batch: EventBatch) => batch.events.forEach(apply));
    live.counts = report.counts;
    live.outcome = report.outcome;
    if (report.outcome === 'completed') {
      // Where the desktop has no notification service, only the notice is lost.
      api.notify('Mailroom', t('campaign.completedNotice', { name })).catch((e: IpcError) =>
        console.warn('no completion notification:', e.message),
      );
    }
  } catch (e) {
    live.error = e as IpcError;
  } finally {
    live.running = false;
    live.pausing = false;
  }
}

export async function pause() {
  if (live.campaignId === null) return;
  live.pausing = true;
  await api.pauseCampaign(live.campaignId);
}

export async function stop() {
  if (live.campaignId === null) return;
  live.pausing = true;
  await api.stopCampaign(live.campaignId);
}
