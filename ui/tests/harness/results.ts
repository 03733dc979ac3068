// A finished campaign as Results shows it, typed against the generated
// bindings (svelte-check fails when a shape drifts from Rust's): failures of
// each kind (550 5.1.1 no such user, a 554 refusal, a 4xx that gave up), an
// uncertain recipient, a recipient retried through 454 → 421 → 250, two
// runs (the first send and a resend that left some out), and the Resend
// plan the engine answers with its defaults. tests/ui.test.mjs uses it
// (`use: 'results'`).
import type { CampaignSummary } from '../../src/lib/bindings/CampaignSummary';
import type { Failure } from '../../src/lib/bindings/Failure';
import type { Recipient } from '../../src/lib/bindings/Recipient';
import type { RecipientFacets } from '../../src/lib/bindings/RecipientFacets';
import type { RecipientHistory } from '../../src/lib/bindings/RecipientHistory';
import type { RecipientPage } from '../../src/lib/bindings/RecipientPage';
import type { ResendPlan } from '../../src/lib/bindings/ResendPlan';
import type { RunRecord } from '../../src/lib/bindings/RunRecord';
import type { StatusCounts } from '../../src/lib/bindings/StatusCounts';
import { outcomesScenario } from './outcomes';

const at = Date.UTC(2026, 10, 23, 9, 30);
const counts: StatusCounts = { pending: 0, sending: 0, sent: 6, retry_wait: 0, failed: 5, skipped: 1, cancelled: 0, uncertain: 1, bounced: 0 };
const campaign: CampaignSummary = {
  id: 9,
  name: 'autumn',
  status: 'paused',
  pause_reason: { kind: 'uncertain', count: 1 },
  account: 'Sandbox',
  source_file: '/home/ann/lists/autumn.csv',
  columns: ['email', 'city'],
  email_column: 'email',
  created_at: at,
  total: 13,
  counts,
  sent_by: null,
  interrupted: false,
};
const unknown: Failure = { stage: 'rcpt', problem: 'rejected', code: 550, enhanced_code: '5.1.1', text: 'User unknown', after_content: false };
const refused: Failure = { stage: 'rcpt', problem: 'rejected', code: 554, enhanced_code: '5.7.1', text: 'Message refused by policy', after_content: false };
const busy: Failure = { stage: 'rcpt', problem: 'rejected', code: 450, enhanced_code: '4.2.0', text: 'Mailbox busy', after_content: false };
const row = (n: number, status: Recipient['status'], reason: Recipient['reason'], attempts: number, reply: string | null = null): Recipient => ({
  row: n,
  email: `user${n}@example.org`,
  status,
  reason,
  reply,
  attempts,
  bounce: null,
  unanswered: status === 'uncertain' ? 1 : 0,
  message_version: 1,
  fields: { email: `user${n}@example.org`, city: `City ${n}` },
});
const retried = row(7, 'sent', null, 3, '250 2.0.0 Ok: queued as 4Bx9');
const recipients: Recipient[] = [
  row(2, 'failed', { kind: 'smtp', failure: unknown, unanswered_before: false }, 1),
  row(3, 'failed', { kind: 'smtp', failure: unknown, unanswered_before: false }, 1),
  row(4, 'failed', { kind: 'smtp', failure: refused, unanswered_before: false }, 1),
  row(5, 'failed', { kind: 'gave_up', attempts: 2, last: busy }, 2),
  row(6, 'uncertain', { kind: 'in_flight_at_stop' }, 1),
  retried,
];
const page: RecipientPage = { recipients, next: 7, previous: null };
const facets: RecipientFacets = {
  counts,
  suppressed: 1,
  reasons: [
    { reason: 'no_such_user', count: 3 },
    { reason: 'smtp', count: 1 },
    { reason: 'gave_up', count: 1 },
  ],
};
const history: RecipientHistory = {
  recipient: retried,
  updated_at: at + 9_000,
  attempts: [
    { started_at: at + 1_000, duration_ms: 42, result: 'transient', stage: 'rcpt', code: 454, enhanced_code: '4.7.0', text: 'Throttling failure: Maximum sending rate exceeded.', account: 'Sandbox', run: 1 },
    { started_at: at + 4_000, duration_ms: 35, result: 'transient', stage: 'rcpt', code: 421, enhanced_code: '4.3.2', text: 'Service shutting down', account: 'Sandbox', run: 1 },
    { started_at: at + 9_000, duration_ms: 120, result: 'sent', stage: 'data', code: 250, enhanced_code: '2.0.0', text: '250 2.0.0 Ok: queued as 4Bx9', account: 'Sandbox', run: 1 },
  ],
  bounces: [],
};
const plan: ResendPlan = {
  choice: { reasons: null, include_suppressed: false, include_uncertain: false, include_bounced: false },
  failed: facets.reasons,
  suppressed: 1,
  uncertain: 1,
  bounced: 0,
  to_send: 1,
  left_out: [
    { why: { why: 'reason', reason: 'no_such_user' }, count: 3 },
    { why: { why: 'suppressed' }, count: 1 },
    { why: { why: 'uncertain' }, count: 1 },
  ],
};
const runs: RunRecord[] = [
  {
    id: 1,
    kind: 'first',
    account: 'Sandbox',
    started_at: at,
    ended_at: at + 60_000,
    end: 'completed',
    reason: null,
    counts_at_start: { ...counts, pending: 13, sent: 0, failed: 0, skipped: 1, uncertain: 0 },
    counts_at_end: counts,
    outcome_counts: { sent: 6, failed: 5, uncertain: 1, cancelled: 0 },
    resend: null,
  },
  {
    id: 2,
    kind: 'resend_failed',
    account: 'Sandbox',
    started_at: at + 120_000,
    ended_at: at + 130_000,
    end: 'paused',
    reason: { kind: 'uncertain', count: 1 },
    counts_at_start: counts,
    counts_at_end: counts,
    outcome_counts: { sent: 0, failed: 1, uncertain: 0, cancelled: 0 },
    resend: plan,
  },
];

export const resultsScenario = {
  results: {
    ...outcomesScenario.results,
    list_campaigns: [campaign],
    recipient_page: page,
    recipient_facets: facets,
    recipient_history: history,
    campaign_runs: runs,
    resend_plan: plan,
    resend_chosen: plan,
    settle_uncertain_rows: 1,
  } satisfies Record<string, unknown>,
  messages: outcomesScenario.messages,
};
