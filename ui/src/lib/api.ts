// Typed wrappers over the app's Tauri commands. The only place the UI names a
// command; argument and result types come from Rust (bindings/, by ts-rs).
import { invoke } from '@tauri-apps/api/core';
import type { CampaignSummary } from './bindings/CampaignSummary';
import type { ErrorKind } from './bindings/ErrorKind';
import type { ImportReport } from './bindings/ImportReport';
import type { IpcError } from './bindings/IpcError';
import type { Recipient } from './bindings/Recipient';

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

export { isIpcError };
export type { IpcError };

export const api = {
  importRecipients: (
    path: string,
    choices: { emailColumn?: string; encoding?: string; delimiter?: string } = {},
  ) =>
    call<ImportReport>('import_recipients', {
      path,
      emailColumn: choices.emailColumn ?? null,
      encoding: choices.encoding ?? null,
      delimiter: choices.delimiter ?? null,
    }),
  campaignSummary: (campaign: number) => call<CampaignSummary>('campaign_summary', { campaign }),
  listRecipients: (campaign: number, offset: number, limit: number) =>
    call<Recipient[]>('list_recipients', { campaign, offset, limit }),
  listCampaigns: () => call<CampaignSummary[]>('list_campaigns'),
  databaseLocation: () => call<string>('database_location'),
};
