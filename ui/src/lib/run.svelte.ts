// The campaign sending from this window, kept outside the Campaign screen so
// that leaving the screen and coming back finds the run, its controls and its
// latest figures (the engine keeps sending either way). Display state only:
// every figure arrives from the engine, already committed.
import { api, type IpcError } from './api';
import type { CampaignEvent } from './bindings/CampaignEvent';
import type { Batch } from './bindings/Batch';
import type { RateState } from './bindings/RateState';
import type { ServerWait } from './bindings/ServerWait';
import { describeEvent } from './outcomes';
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
  /** Set while the run waits for a server it cannot connect to: shown instead of the rate. */
  serverWait: ServerWait | null;
  eta: number | null;
  /**
   * The latest events themselves, newest first, each with when the window
   * received it (batches arrive within a tenth of a second of the event):
   * said in whatever language the window speaks when shown.
   */
  log: { at: number; event: CampaignEvent }[];
  outcome: RunOutcome | null;
  error: IpcError | null;
  /** One point per progress snapshot: sent per second, the limit in force then (null: none) and failures so far, for the chart. */
  history: { sentPerSecond: number; limit: number | null; failed: number }[];
}>({
  campaignId: null,
  running: false,
  pausing: false,
  counts: null,
  percentDone: null,
  sentPerSecond: 0,
  rate: null,
  serverWait: null,
  eta: null,
  log: [],
  outcome: null,
  error: null,
  history: [],
});

/** Points kept for the chart (about two minutes at four snapshots a second). */
const HISTORY = 480;

function note(event: CampaignEvent) {
  if (describeEvent(event) === null) return;
  live.log = [{ at: Date.now(), event }, ...live.log].slice(0, 50);
}

function apply(event: CampaignEvent) {
  switch (event.type) {
    case 'started':
      live.counts = event.counts;
      live.rate = event.rate;
      note(event);
      break;
    case 'progress':
      live.counts = event.counts;
      live.percentDone = event.percent_done;
      live.sentPerSecond = event.sent_per_second;
      live.rate = event.rate;
      live.serverWait = event.server_wait;
      live.eta = event.eta_seconds === null ? null : Number(event.eta_seconds);
      live.history = [
        ...live.history.slice(-(HISTORY - 1)),
        { sentPerSecond: event.sent_per_second, limit: event.rate?.effective ?? null, failed: Number(event.counts.failed) },
      ];
      break;
    case 'rate_changed':
      live.rate = event.rate;
      note(event);
      break;
    case 'finished':
      live.serverWait = null;
      live.counts = event.counts;
      live.outcome = event.outcome;
      note(event);
      break;
    default:
      note(event);
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

/** Sends the campaign until it completes, pauses or stops, on `accounts`
 * in order (empty: the campaign's own). */
export async function start(campaignId: number, accounts: string[], name: string) {
  live.campaignId = campaignId;
  live.running = true;
  live.pausing = false;
  live.percentDone = null;
  live.serverWait = null;
  live.outcome = null;
  live.error = null;
  let told: Promise<unknown> = Promise.resolve();
  try {
    const report = await api.startCampaign(campaignId, accounts, (batch: Batch<CampaignEvent>) => batch.events.forEach(apply));
    live.counts = report.counts;
    live.outcome = report.outcome;
    if (report.outcome === 'completed') {
      // Where the desktop has no notification service, only the notice is lost.
      told = api.notify('Mailroom', t('campaign.completedNotice', { name })).catch((e: IpcError) =>
        console.warn('no completion notification:', e.message),
      );
    }
  } catch (e) {
    live.error = e as IpcError;
  } finally {
    live.running = false;
    live.pausing = false;
    // Once the end is told, Mailroom running in the background with nothing
    // left may quit (it waits for this, so the notification is not lost); a
    // run that failed or paused by itself brings the window back instead.
    const needsAttention = live.error !== null || live.outcome === 'paused';
    void told.then(() => api.runSettled(needsAttention)).catch((e: IpcError) => console.warn('run end not told to the shell:', e.message));
  }
}

export async function pause() {
  if (live.campaignId === null) return;
  live.pausing = true;
  await api.pauseCampaign(live.campaignId);
}

/** A campaign that was not sending here was stopped (from paused): say so. */
export function stoppedIdle(campaignId: number) {
  if (live.running || live.campaignId !== campaignId) return;
  live.outcome = 'stopped';
}

export async function stop() {
  if (live.campaignId === null) return;
  live.pausing = true;
  await api.stopCampaign(live.campaignId);
}
