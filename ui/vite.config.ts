// Builds the window's UI into dist/ (embedded in the app by tauri-build), or,
// with `--mode mock`, the test harness (tests/harness) into dist-test/: the
// same app over mocked IPC, for the headless-Chromium UI tests.
import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig(({ mode }) => {
  const mock = mode === 'mock';
  return {
    plugins: [svelte()],
    clearScreen: false,
    server: { port: 5173, strictPort: true },
    build: {
      target: 'es2022',
      outDir: mock ? 'dist-test' : 'dist',
      emptyOutDir: true,
      // Inline assets would need a looser Content-Security-Policy.
      assetsInlineLimit: 0,
      rollupOptions: {
        input: mock ? resolve(import.meta.dirname, 'tests/harness/index.html') : resolve(import.meta.dirname, 'index.html'),
      },
    },
  };
});
