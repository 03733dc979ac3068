// The real UI over mocked IPC, for tests in headless Chromium. A test sets
// `window.__MAILROOM_SCENARIO__` (command -> result or error) before the page
// loads; every call is recorded, and `drop()` plays a file drag-and-drop.
import { emit } from '@tauri-apps/api/event';
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';

type Scenario = {
  results?: Record<string, unknown>;
  failures?: Record<string, { kind: string; message: string }>;
};

type Harness = {
  calls: { command: string; args: unknown }[];
  drop: (paths: string[]) => Promise<void>;
  /** Plays an event the shell would send (e.g. `close-requested`). */
  event: (name: string) => Promise<void>;
};

declare global {
  interface Window {
    __MAILROOM_SCENARIO__?: Scenario;
    __mailroom: Harness;
  }
}

const scenario: Scenario = window.__MAILROOM_SCENARIO__ ?? {};
const calls: Harness['calls'] = [];

mockWindows('main');
mockIPC(
  (command, args) => {
    calls.push({ command, args });
    const failure = scenario.failures?.[command];
    if (failure) throw failure;
    if (scenario.results && command in scenario.results) return scenario.results[command];
    throw { kind: 'internal', message: `the test did not mock "${command}"` };
  },
  { shouldMockEvents: true },
);

window.__mailroom = {
  calls,
  drop: (paths) => emit('tauri://drag-drop', { paths, position: { x: 100, y: 100 } }),
  event: (name) => emit(name),
};

await import('../../src/main');
