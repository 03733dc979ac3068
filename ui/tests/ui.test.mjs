// UI tests: the real Svelte app over mocked IPC (tests/harness), in Debian's
// headless Chromium driven by playwright-core. Run with `npm test` (which
// builds the harness first).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const DIST = join(import.meta.dirname, '..', 'dist-test');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** A one-folder static server on a free loopback port. */
async function serve(root) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { server, url: `http://127.0.0.1:${port}/tests/harness/index.html` };
}

const counts = { pending: 2, sending: 0, sent: 0, retry_wait: 0, failed: 0, skipped: 3, cancelled: 0, uncertain: 0, bounced: 0 };
const campaign = {
  id: 7,
  name: 'spring',
  status: 'draft',
  source_file: '/home/ann/lists/spring.csv',
  columns: ['name', 'email', 'city'],
  email_column: 'email',
  created_at: Date.UTC(2026, 10, 23, 9, 30),
  total: 5,
  counts,
};
const report = {
  campaign,
  rows: 5,
  valid: 2,
  invalid: [{ row: 4, value: 'bob-at-example.com', reason: 'missing_at' }],
  duplicates: [{ row: 5, email: 'ANN@example.com', first_row: 2 }],
  suppressed: [{ row: 6, email: 'blocked@example.com' }],
  format: 'csv',
  encoding: 'UTF-8',
  delimiter: ',',
  sheet: null,
  columns: ['Name', 'email', 'city'],
  fields: ['name', 'email', 'city'],
  email_column: 'email',
  preview: [
    ['Ann', 'ann@example.com', 'Oslo'],
    ['李雷', 'li@example.cn', '北京'],
    ['Bob', 'bob-at-example.com', 'Bergen'],
  ],
};
const preview = {
  format: 'csv',
  encoding: 'UTF-8',
  delimiter: ',',
  sheet: null,
  sheets: [],
  columns: report.columns,
  fields: report.fields,
  email_column: 'email',
  rows: report.preview,
  file_bytes: 180,
};
/** `count` recipients of the mocked campaign, numbered from row `first`. */
const recipients = (first, count) =>
  Array.from({ length: count }, (_, i) => ({
    row: first + i,
    email: `person${first + i}@example.com`,
    status: 'pending',
    reason: null,
    reply: null,
    attempts: 0,
    fields: { name: `Person ${first + i}`, email: `person${first + i}@example.com`, city: 'Oslo' },
  }));
const baseResults = {
  database_location: '/home/ann/.local/share/org.mailroom.desktop/mailroom.db',
  list_campaigns: [campaign],
  'plugin:dialog|open': '/home/ann/lists/spring.csv',
  preview_import: preview,
  import_recipients: report,
  list_recipients: recipients(2, 5),
  cancel_import: null,
};
/** The arguments of an import call that say what to import and how. */
const importArgs = ({ path, emailColumn, encoding, delimiter, sheet, replaces }) => ({
  path,
  emailColumn,
  encoding,
  delimiter,
  sheet,
  replaces,
});

let browser;
let site;
let context;

before(async () => {
  site = await serve(DIST);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
});

after(async () => {
  await browser?.close();
  site?.server.close();
});

beforeEach(async () => {
  await context?.close();
});

/** Opens the app with `scenario` mocked, in `locale`; fails on any page error. */
async function openApp(scenario, locale = 'en-US', screen = 'recipients') {
  context = await browser.newContext({ locale, viewport: { width: 1180, height: 760 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => m.type() === 'error' && errors.push(new Error(m.text())));
  await page.addInitScript((s) => (window.__MAILROOM_SCENARIO__ = s), scenario);
  await page.goto(site.url);
  await page.getByTestId(`${screen}-screen`).waitFor();
  return { page, errors };
}

const calls = (page, command) =>
  page.evaluate((c) => window.__mailroom.calls.filter((call) => call.command === c), command);

describe('Recipients screen', () => {
  test('imports the file chosen in the dialog and shows counts, preview and problems', async () => {
    const { page, errors } = await openApp({ results: baseResults });
    await page.getByTestId('choose-file').click();
    await page.getByTestId('import-report').waitFor();

    const imports = await calls(page, 'import_recipients');
    assert.equal(imports.length, 1);
    assert.deepEqual(importArgs(imports[0].args), {
      path: '/home/ann/lists/spring.csv',
      emailColumn: null,
      encoding: null,
      delimiter: null,
      sheet: null,
      replaces: null,
    });
    assert.equal(typeof imports[0].args.onProgress.id, 'number', 'progress comes back on a channel');
    assert.equal((await calls(page, 'preview_import')).length, 1, 'the preview comes first');
    const [dialog] = await calls(page, 'plugin:dialog|open');
    assert.equal(dialog.args.options.multiple, false);
    assert.deepEqual(dialog.args.options.filters[0].extensions, ['csv', 'tsv', 'txt', 'xlsx', 'xlsm', 'xlsb', 'xls', 'ods']);

    assert.equal(await page.getByTestId('count-rows').locator('dd').textContent(), '5');
    assert.equal(await page.getByTestId('count-valid').locator('dd').textContent(), '2');
    assert.equal(await page.getByTestId('count-invalid').locator('dd').textContent(), '1');
    assert.equal(await page.getByTestId('count-duplicates').locator('dd').textContent(), '1');
    assert.equal(await page.getByTestId('count-suppressed').locator('dd').textContent(), '1');
    assert.match(await page.getByTestId('detected').textContent(), /UTF-8 · delimiter “,” · email column “email”/);
    assert.match(await page.getByTestId('import-report').textContent(), /draft campaign “spring” \(#7\) from spring\.csv/);

    const preview = page.getByTestId('preview');
    assert.deepEqual(await preview.locator('th').allTextContents(), ['Name{{ name }}', 'email', 'city']);
    assert.deepEqual(await preview.getByTestId('field-name').allTextContents(), ['{{ name }}']);
    assert.deepEqual(await preview.locator('tbody tr').nth(1).locator('td').allTextContents(), ['李雷', 'li@example.cn', '北京']);

    const problems = await page.getByTestId('problems').locator('tbody tr').allTextContents();
    assert.deepEqual(problems, [
      '4bob-at-example.comThe address has no @',
      '5ANN@example.comDuplicate of row 2',
      '6blocked@example.comOn the suppression list',
    ]);
    assert.match(await page.locator('.statusbar').textContent(), /org\.mailroom\.desktop\/mailroom\.db/);
    assert.deepEqual(errors, []);
  });

  test('a tab delimiter and a legacy encoding are named as people say them', async () => {
    const tabbed = { ...report, encoding: 'UTF-16LE', delimiter: 'tab' };
    const { page } = await openApp({ results: { ...baseResults, import_recipients: tabbed } }, 'zh-CN');
    await page.getByTestId('choose-file').click();
    await page.getByTestId('import-report').waitFor();
    assert.equal(await page.getByTestId('detected').textContent(), '编码 UTF-16LE · 分隔符“制表符” · 邮箱列“email”');
  });

  test('a cancelled dialog imports nothing', async () => {
    const { page } = await openApp({ results: { ...baseResults, 'plugin:dialog|open': null } });
    await page.getByTestId('choose-file').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'plugin:dialog|open'));
    assert.equal((await calls(page, 'import_recipients')).length, 0);
    assert.equal(await page.getByTestId('import-report').count(), 0);
  });

  test('imports a file dropped on the window', async () => {
    const { page } = await openApp({ results: baseResults });
    await page.evaluate(() => window.__mailroom.drop(['/tmp/dropped.csv']));
    await page.getByTestId('import-report').waitFor();
    const imports = await calls(page, 'import_recipients');
    assert.deepEqual(imports.map((c) => c.args.path), ['/tmp/dropped.csv']);
  });

  test('an engine error is shown as its translated sentence with the detail', async () => {
    const failure = {
      kind: 'no_email_column',
      message: 'phones.csv has no email column (its columns are: name, phone)',
    };
    const { page } = await openApp({ results: baseResults, failures: { import_recipients: failure } });
    await page.getByTestId('choose-file').click();
    const banner = page.getByTestId('error');
    await banner.waitFor();
    assert.equal(await banner.getAttribute('data-kind'), 'no_email_column');
    assert.match(await banner.textContent(), /No column with email addresses was found\./);
    assert.match(await banner.textContent(), /its columns are: name, phone/);
    await page.getByTestId('import-another').click();
    assert.equal(await page.getByTestId('choose-file').count(), 1, 'the person can try another file');
  });
  test('changing the delimiter previews again and imports in place of the draft', async () => {
    const { page, errors } = await openApp({ results: baseResults });
    await page.getByTestId('choose-file').click();
    await page.getByTestId('import-report').waitFor();
    const delimiter = page.getByTestId('choice-delimiter');
    assert.equal(await delimiter.inputValue(), ',');
    assert.deepEqual(await delimiter.locator('option').allTextContents(), [
      'comma , (detected)',
      'semicolon ;',
      'tab',
      'bar |',
    ]);
    assert.equal(await page.getByTestId('choice-encoding').inputValue(), 'UTF-8');

    await delimiter.selectOption(';');
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'import_recipients').length === 2);
    const previews = await calls(page, 'preview_import');
    assert.equal(previews[1].args.delimiter, ';');
    const imports = await calls(page, 'import_recipients');
    assert.deepEqual(importArgs(imports[1].args), {
      path: '/home/ann/lists/spring.csv',
      emailColumn: null,
      encoding: null,
      delimiter: ';',
      sheet: null,
      replaces: 7,
    });
    await page.getByTestId('import-report').waitFor();
    assert.deepEqual(errors, []);
  });

  test('a stray quote is shown before anything is imported, with the choice to read quotes literally', async () => {
    const failure = {
      kind: 'unclosed_quote',
      message: 'q.csv, row 3, column 1: the quoted value starting "b@example.com,B\\nc@example.com,C" never closes: it runs to the end of the file; a quote is probably missing its partner: fix it in the file, or read quotes literally',
    };
    const { page, errors } = await openApp({ results: baseResults, failures: { preview_import: failure } });
    await page.getByTestId('choose-file').click();
    const banner = page.getByTestId('error');
    await banner.waitFor();
    assert.equal(await banner.getAttribute('data-kind'), 'unclosed_quote');
    assert.match(await banner.textContent(), /row 3, column 1/);
    assert.equal((await calls(page, 'import_recipients')).length, 0, 'nothing is imported');

    await page.evaluate(() => delete window.__MAILROOM_SCENARIO__.failures.preview_import);
    await page.getByTestId('read-quotes-literally').click();
    await page.getByTestId('import-report').waitFor();
    const previews = await calls(page, 'preview_import');
    assert.equal(previews[1].args.literalQuotes, true);
    const imports = await calls(page, 'import_recipients');
    assert.equal(imports[0].args.literalQuotes, true);
    assert.equal(await page.getByTestId('choice-quotes').count(), 1, 'the choice stays on the screen');
    assert.deepEqual(errors, []);
  });

  test('a workbook offers its sheets; another sheet is previewed with its own email column', async () => {
    const workbook = {
      ...preview,
      format: 'xlsx',
      encoding: null,
      delimiter: null,
      sheet: 'Notes',
      sheets: ['Notes', 'Customers'],
      columns: ['Spring mailing'],
      fields: ['spring_mailing'],
      email_column: null,
      rows: [['Customers are on the next sheet.']],
    };
    const { page, errors } = await openApp({
      results: { ...baseResults, 'plugin:dialog|open': '/home/ann/lists/sheets.xlsx', preview_import: workbook },
    });
    await page.getByTestId('choose-file').click();
    await page.getByTestId('choose-column').waitFor();
    assert.equal((await calls(page, 'import_recipients')).length, 0, 'nothing is imported without an email column');
    assert.equal(await page.getByTestId('choice-encoding').count(), 0, 'a workbook has no encoding to choose');
    assert.deepEqual(await page.getByTestId('choice-sheet').locator('option').allTextContents(), [
      'Notes (detected)',
      'Customers',
    ]);

    await page.evaluate(
      (customers) => (window.__MAILROOM_SCENARIO__.results.preview_import = customers),
      { ...workbook, sheet: 'Customers', columns: ['姓名', '电子邮件'], fields: ['姓名', '电子邮件'], email_column: '电子邮件', rows: [['王芳', 'wang.fang@example.com']] },
    );
    await page.getByTestId('choice-sheet').selectOption('Customers');
    await page.getByTestId('import-report').waitFor();
    const [imported] = await calls(page, 'import_recipients');
    assert.equal(imported.args.sheet, 'Customers');
    assert.equal(imported.args.emailColumn, null, 'the new sheet finds its own column');
    assert.equal(await page.getByTestId('choice-email-column').inputValue(), '电子邮件');
    assert.deepEqual(await page.getByTestId('preview').locator('tbody td').allTextContents(), ['王芳', 'wang.fang@example.com']);
    assert.deepEqual(errors, []);
  });

  test('a long import shows its progress and can be cancelled', async () => {
    const { page, errors } = await openApp({
      results: baseResults,
      held: ['import_recipients'],
      messages: { import_recipients: [{ rows: 120000, fraction: 0.45 }] },
    });
    await page.getByTestId('choose-file').click();
    const progress = page.getByTestId('import-progress');
    await progress.waitFor();
    await page.waitForFunction(() => /120,000/.test(document.querySelector('[data-testid=import-progress]')?.textContent ?? ''));
    assert.match(await progress.textContent(), /120,000 rows read \(45%\)/);
    assert.equal(await progress.locator('progress').evaluate((p) => p.value), 0.45);
    assert.equal(await page.getByTestId('preview').locator('tbody tr').count(), 3, 'the first rows show while it imports');

    await page.getByTestId('cancel-import').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'cancel_import'));
    const [cancel] = await calls(page, 'cancel_import');
    const [running] = await calls(page, 'import_recipients');
    assert.equal(cancel.args.importId, running.args.importId);
    await page.evaluate(() => {
      window.__MAILROOM_SCENARIO__.failures = {
        import_recipients: { kind: 'import_cancelled', message: 'the import of spring.csv was cancelled; nothing was saved' },
      };
      window.__mailroom.release('import_recipients');
    });
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').textContent(), /The import was cancelled; nothing was saved\./);
    assert.equal(await page.getByTestId('import-progress').count(), 0);
    assert.equal(await page.getByTestId('import-report').count(), 0);
    assert.deepEqual(errors, []);
  });

  test('the recipient table pages through the store instead of holding every row', async () => {
    const big = { ...campaign, total: 250, counts: { ...counts, pending: 240, skipped: 10 } };
    const rows = recipients(2, 100);
    rows[0] = { ...rows[0], status: 'sent', reply: '250 2.0.0 Ok: queued as 4BxQ' };
    const { page, errors } = await openApp({
      results: { ...baseResults, import_recipients: { ...report, campaign: big }, list_recipients: rows },
    });
    await page.getByTestId('choose-file').click();
    const table = page.getByTestId('recipient-table');
    await table.waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=recipients] tbody tr').length === 100);
    assert.equal(await page.getByTestId('page-range').textContent(), 'Rows 1–100 of 250');
    assert.deepEqual(await page.getByTestId('recipients').locator('thead th').allTextContents(), ['Row', 'State', 'name', 'email', 'city', 'Why']);
    // A sent recipient shows the server's reply, the line a provider traces a delivery by.
    const first = await page.getByTestId('recipients').locator('tbody tr').first().locator('td').allTextContents();
    assert.deepEqual([first[1], first[5].trim()], ['Sent', '“250 2.0.0 Ok: queued as 4BxQ”']);

    await page.getByTestId('page-next').click();
    await page.getByTestId('page-last').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=page-range]')?.textContent === 'Rows 201–250 of 250');
    assert.equal(await page.getByTestId('page-next').isDisabled(), true);
    await page.getByTestId('filter-skipped').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=page-range]')?.textContent === 'Rows 1–10 of 10');
    await page.getByTestId('filter-all').click();
    await page.getByTestId('page-jump').fill('180');
    await page.getByTestId('page-jump').press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid=page-range]')?.textContent === 'Rows 101–200 of 250');

    const pages = (await calls(page, 'list_recipients')).map((c) => [c.args.status, c.args.offset, c.args.limit]);
    assert.deepEqual(pages, [
      [null, 0, 100],
      [null, 100, 100],
      [null, 200, 100],
      ['skipped', 0, 100],
      [null, 0, 100],
      [null, 100, 100],
    ]);
    await page.getByTestId('use-recipients').click();
    await page.getByTestId('message-screen').waitFor();
    assert.deepEqual(errors.filter((e) => !/did not mock/.test(e.message)), []);
  });
});

describe('Languages', () => {
  test('follows a Chinese OS and can be switched back, remembering the choice', async () => {
    const { page } = await openApp({ results: baseResults }, 'zh-CN');
    assert.equal((await page.locator('[data-screen=recipients]').textContent())?.trim(), '收件人');
    assert.equal(await page.getByTestId('choose-file').textContent(), '选择文件…');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');

    await page.locator('[data-screen=settings]').click();
    const language = page.getByTestId('language');
    assert.equal(await language.inputValue(), 'system');
    assert.equal(await language.locator('option').first().textContent(), '跟随系统（简体中文）');
    await language.selectOption('en');
    assert.equal(await page.locator('main h1').textContent(), 'Settings');
    assert.deepEqual((await calls(page, 'set_language')).map((c) => c.args), [{ language: 'en' }]);
    await page.reload();
    await page.getByTestId('recipients-screen').waitFor();
    assert.equal(await page.getByTestId('choose-file').textContent(), 'Choose file…');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');

    // Back to following the OS.
    await page.locator('[data-screen=settings]').click();
    await page.getByTestId('language').selectOption('system');
    assert.equal(await page.locator('main h1').textContent(), '设置');
    assert.deepEqual((await calls(page, 'set_language')).map((c) => c.args), [{ language: null }]);
  });

  test('a language chosen in an earlier version is carried over into the settings file', async () => {
    context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__MAILROOM_SCENARIO__ = { results: {} };
      localStorage.setItem('mailroom.locale', 'zh-CN');
    });
    await page.goto(site.url);
    await page.getByTestId('recipients-screen').waitFor();
    assert.equal((await page.locator('[data-screen=recipients]').textContent())?.trim(), '收件人');
    assert.deepEqual((await calls(page, 'set_language')).map((c) => c.args), [{ language: 'zh-CN' }]);
  });

  test('an English OS gets English', async () => {
    const { page } = await openApp({ results: baseResults }, 'en-GB');
    assert.equal((await page.locator('[data-screen=results]').textContent())?.trim(), 'Results');
  });
});

describe('Navigation', () => {
  test('every screen is reachable and the Results screen lists campaigns', async () => {
    const { page, errors } = await openApp({ results: baseResults });
    for (const [screen, heading] of [
      ['smtp', 'SMTP accounts'],
      ['message', 'Message'],
      ['campaign', 'Campaign'],
      ['results', 'Results'],
      ['recipients', 'Recipients'],
    ]) {
      await page.locator(`[data-screen=${screen}]`).click();
      assert.equal(await page.locator('main h1').textContent(), heading);
      assert.equal(await page.locator(`[data-screen=${screen}]`).getAttribute('aria-current'), 'page');
    }
    await page.locator('[data-screen=results]').click();
    const row = page.getByTestId('campaigns').locator('tbody tr').first();
    await row.waitFor();
    assert.match(await row.textContent(), /spring/);
    assert.match(await row.textContent(), /Pending\s*2/);
    assert.match(await row.textContent(), /Skipped\s*3/);
    assert.deepEqual(errors, []);
  });
});

const sandboxAccount = {
  id: 1,
  name: 'Sandbox',
  preset: 'sandbox',
  host: '127.0.0.1',
  port: 2526,
  security: 'none',
  auth: 'none',
  username: null,
  from_address: null,
  from_name: null,
  reply_to: null,
  helo_name: null,
  connect_timeout_ms: 15000,
  command_timeout_ms: 30000,
  data_timeout_ms: 120000,
  connections: 4,
  per_connection: 100,
  rate_per_second: null,
  per_minute: null,
  per_hour: null,
  per_day: null,
  retries: 5,
  accept_invalid_certs: false,
  has_password: false,
  warnings: [],
};
const presetBase = { username: null, regions: [], default_region: null, rate_per_second: null, per_minute: null, per_hour: null, per_day: null, password_label: null };
const presets = [
  { ...presetBase, id: 'sandbox', name: 'Sandbox (built in)', host: '127.0.0.1', port: 2525, security: 'none', auth: 'none', connections: 4, per_connection: 100, note: 'Local.' },
  { ...presetBase, id: 'gmail', name: 'Gmail', host: 'smtp.gmail.com', port: 587, security: 'starttls', auth: 'plain', connections: 2, per_connection: 100, rate_per_second: 1, per_day: 500, password_label: 'App password', note: 'Needs an app password.' },
  { ...presetBase, id: 'custom', name: 'Other server', host: '', port: 587, security: 'starttls', auth: 'plain', connections: 4, per_connection: 100, note: 'Any server.' },
];
const smtpResults = {
  ...baseResults,
  list_accounts: [sandboxAccount],
  smtp_presets: presets,
  secret_store_notice: null,
};
const refusedDiagnosis = {
  host: '127.0.0.1',
  port: 2526,
  ok: false,
  problem: 'refused',
  verdict: 'Nothing is listening on 127.0.0.1:2526.',
  stages: [
    { stage: 'dns', outcome: 'passed', duration_ms: 0, detail: '127.0.0.1 → 127.0.0.1', problem: null, code: null, enhanced_code: null, advice: null, extensions: [] },
    { stage: 'connect', outcome: 'failed', duration_ms: 1, detail: 'connect: 127.0.0.1:2526: connection refused', problem: 'refused', code: null, enhanced_code: null, advice: 'Nothing is listening on 127.0.0.1:2526.', extensions: [] },
  ],
};

describe('SMTP screen', () => {
  test('a new account from a preset is saved with the preset limits; the password only goes out', async () => {
    const saved = { ...sandboxAccount, ...presets[1], id: 2, name: 'work', preset: 'gmail', username: 'me@gmail.com', has_password: true, warnings: [] };
    // What the engine's Preset::settings gives for Gmail (mocked: the mapping lives in Rust).
    const { has_password, warnings, id, ...gmailSettings } = saved;
    void has_password, warnings, id;
    const { page, errors } = await openApp({
      results: { ...smtpResults, save_account: saved, preset_settings: { ...gmailSettings, name: 'Gmail', username: null } },
    });
    await page.locator('[data-screen=smtp]').click();
    await page.getByTestId('add-account').click();
    await page.getByTestId('preset').selectOption('gmail');
    await page.getByTestId('field-name').fill('work');
    await page.getByTestId('field-username').fill('me@gmail.com');
    await page.getByTestId('field-password').fill('app-pw');
    await page.getByTestId('save-account').click();
    await page.getByTestId('saved').waitFor();

    const presetCalls = await calls(page, 'preset_settings');
    assert.deepEqual(presetCalls.at(-1).args, { preset: 'gmail', name: 'Gmail', region: null });
    const [save] = await calls(page, 'save_account');
    assert.equal(save.args.id, null);
    assert.equal(save.args.password, 'app-pw');
    assert.equal(save.args.settings.host, 'smtp.gmail.com');
    assert.equal(save.args.settings.security, 'starttls');
    assert.equal(save.args.settings.per_day, 500);
    assert.equal(save.args.settings.username, 'me@gmail.com');
    // After saving, the field is empty and says a password is stored.
    assert.equal(await page.getByTestId('field-password').inputValue(), '');
    assert.match(await page.getByTestId('field-password').getAttribute('placeholder'), /Stored/);
    assert.deepEqual(errors, []);
  });

  test('a failed test shows the failed stage and translated advice in both languages', async () => {
    const { page, errors } = await openApp({ results: { ...smtpResults, test_account: refusedDiagnosis } });
    await page.locator('[data-screen=smtp]').click();
    await page.getByTestId('test-connection').click();
    await page.getByTestId('verdict').waitFor();
    assert.equal(await page.getByTestId('verdict').getAttribute('data-ok'), 'false');
    const [run] = await calls(page, 'test_account');
    assert.equal(run.args.name, 'Sandbox');
    assert.equal(run.args.sendTo, null);
    const failed = page.locator('[data-testid=stage][data-outcome=failed]');
    assert.equal(await failed.getAttribute('data-stage'), 'connect');
    assert.match(await page.getByTestId('advice').textContent(), /Nothing is listening on 127\.0\.0\.1:2526/);

    await page.evaluate(() => window.__mailroom.event('menu', 'language:zh-CN'));
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    assert.match(await page.getByTestId('advice').textContent(), /127\.0\.0\.1:2526 上没有服务在监听/);
    assert.match(await failed.textContent(), /连接/);
    assert.deepEqual(errors, []);
  });
});

describe('Campaign screen', () => {
  test('a campaign left running by a closed app is offered for resume at start', async () => {
    // As the engine lists a run nobody is sending any more: paused, interrupted.
    const interrupted = { ...campaign, status: 'paused', interrupted: true, account: 'Sandbox' };
    const { page, errors } = await openApp({
      results: { ...baseResults, list_campaigns: [interrupted], list_accounts: [] },
    }, 'en-US', 'campaign');
    await page.getByTestId('interrupted').waitFor();
    assert.equal(await page.locator('[data-screen=campaign]').getAttribute('aria-current'), 'page');
    assert.match(await page.getByTestId('interrupted').textContent(), /interrupted/);
    assert.equal(await page.getByTestId('start').textContent(), 'Resume');
    assert.deepEqual(errors, []);
  });

  test('a campaign another Mailroom is sending is named as such, not offered for resume', async () => {
    const elsewhere = { ...campaign, status: 'running', account: 'Sandbox', sent_by: 'mailroom (process 4242)' };
    const { page, errors } = await openApp({
      results: { ...baseResults, list_campaigns: [elsewhere], list_accounts: [] },
    });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('sent-elsewhere').waitFor();
    assert.match(await page.getByTestId('sent-elsewhere').textContent(), /mailroom \(process 4242\)/);
    assert.equal(await page.getByTestId('start').count(), 0);
    assert.equal(await page.getByTestId('interrupted').count(), 0);
    assert.deepEqual(errors, []);
  });
});

describe('Message screen', () => {
  const draft = {
    subject: 'Spring news',
    text: null,
    html: '<p>Old body</p>',
    attachments: ['/home/ann/brochure.pdf'],
    attachment_column: null,
    attachment_name: null,
    attachment_folder: null,
    unsubscribe: { enabled: true, mailto: null, url: null },
  };
  const results = {
    ...baseResults,
    list_accounts: [],
    list_templates: [],
    get_message: draft,
    clean_pasted_html: '<p><b>Clean</b> words</p>',
    save_message: {
      fields: ['email', 'name', 'city'],
      missing_attachment_count: 2,
      missing_attachments: [
        { row: 3, email: 'li@example.cn', path: '/home/ann/invoices/li.pdf', problem: null },
        {
          row: 4,
          email: 'bob@example.com',
          path: '/home/ann/invoices/../secret.txt',
          problem: 'the file name "../secret.txt" leads out of the folder /home/ann/invoices',
        },
      ],
      message_bytes: 250000,
    },
  };

  test('a Word paste goes through the engine cleaner, and Save keeps the draft attachments', async () => {
    const { page, errors } = await openApp({ results });
    await page.locator('[data-screen=message]').click();
    const editor = page.getByTestId('rich-editor');
    await page.waitForFunction(() => document.querySelector('[data-testid=rich-editor]')?.textContent === 'Old body');
    assert.match(await page.getByTestId('attachments').textContent(), /brochure\.pdf/);

    const word = '<p class=MsoNormal><span style="mso-bidi-font-weight:bold">Dirty</span><o:p></o:p></p>';
    await editor.click();
    await page.evaluate((html) => {
      const data = new DataTransfer();
      data.setData('text/html', html);
      data.setData('text/plain', 'Dirty');
      document
        .querySelector('[data-testid=rich-editor]')
        .dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, word);
    await page.waitForFunction(() => document.querySelector('[data-testid=rich-editor] b')?.textContent === 'Clean');
    const cleaned = await calls(page, 'clean_pasted_html');
    assert.equal(cleaned.length, 1);
    assert.equal(cleaned[0].args.html, word);

    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('message-size').waitFor();
    const [saved] = await calls(page, 'save_message');
    assert.deepEqual(saved.args.draft.attachments, ['/home/ann/brochure.pdf']);
    assert.match(saved.args.draft.html, /<b>Clean<\/b> words/);
    assert.doesNotMatch(saved.args.draft.html, /Mso|mso-|o:p/);
    assert.match(await page.getByTestId('message-size').textContent(), /250 KB/);
    const missing = await page.getByTestId('missing-attachments').textContent();
    assert.match(missing, /li@example\.cn.*li\.pdf/s);
    // A refused file says why.
    assert.match(missing, /bob@example\.com.*leads out of the folder/s);
    assert.deepEqual(errors, []);
  });

  test('the HTML source mode edits the same body the rich editor shows', async () => {
    const { page, errors } = await openApp({ results });
    await page.locator('[data-screen=message]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=rich-editor]')?.textContent === 'Old body');
    await page.getByTestId('mode-source').click();
    const source = page.locator('textarea[name=html]');
    assert.equal(await source.inputValue(), '<p>Old body</p>');
    await source.fill('<h2>Hello {{ name }}</h2>');
    await page.getByTestId('mode-rich').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=rich-editor] h2')?.textContent === 'Hello {{ name }}');
    assert.deepEqual(errors, []);
  });
});

describe('Closing the window', () => {
  test('while a campaign sends, closing asks; Keep sending stays, Pause and quit pauses everything', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, pause_all_and_quit: null } });
    await page.evaluate(() => window.__mailroom.event('close-requested'));
    const dialog = page.getByTestId('close-dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /A campaign is sending/);
    await page.getByTestId('keep-sending').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'pause_all_and_quit')).length, 0);

    await page.evaluate(() => window.__mailroom.event('close-requested'));
    await page.getByTestId('pause-and-quit').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'pause_all_and_quit'));
    assert.deepEqual(errors, []);
  });
});

describe('Exports', () => {
  test('failed recipients are exported from Results to the file chosen in the save dialog', async () => {
    const failedCampaign = { ...campaign, counts: { ...counts, failed: 4 } };
    const { page, errors } = await openApp({
      results: {
        ...baseResults,
        list_campaigns: [failedCampaign],
        'plugin:dialog|save': '/home/ann/spring-failed.csv',
        export_recipients: 4,
      },
    });
    await page.locator('[data-screen=results]').click();
    await page.getByTestId('export-failed').click();
    await page.getByTestId('exported').waitFor();
    assert.match(await page.getByTestId('exported').textContent(), /Wrote 4 recipients to \/home\/ann\/spring-failed\.csv/);
    const [call] = await calls(page, 'export_recipients');
    assert.deepEqual(call.args, { campaign: 7, statuses: ['failed'], path: '/home/ann/spring-failed.csv' });
    assert.deepEqual(errors, []);
  });

  test('Resend failed leaves bounced recipients out unless the person ticks them in', async () => {
    const bounced = { ...campaign, status: 'completed', counts: { ...counts, pending: 0, sent: 5, failed: 2, bounced: 3 } };
    const { page, errors } = await openApp({
      results: {
        ...baseResults,
        list_campaigns: [bounced],
        list_accounts: [],
        resend_failed: 5,
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 7, failed: 0, bounced: 3 } },
        'plugin:notification|notify': null,
      },
    });
    await page.locator('[data-screen=results]').click();
    assert.equal(await page.getByTestId('status-bounced').locator('dd').textContent(), '3');
    const resend = page.getByTestId('resend-failed');
    assert.equal(await resend.textContent(), 'Resend 2 failed');
    await page.getByTestId('include-bounced').check();
    assert.equal(await resend.textContent(), 'Resend 2 failed and 3 bounced');
    await resend.click();
    await page.getByTestId('campaign-screen').waitFor();
    assert.deepEqual((await calls(page, 'resend_failed')).map((c) => c.args), [{ campaign: 7, includeBounced: true }]);
    assert.deepEqual(errors, []);
  });

  test('Resend failed puts the failed recipients back and starts a run on the Campaign screen', async () => {
    const failedCampaign = { ...campaign, status: 'completed', counts: { ...counts, pending: 0, sent: 1, failed: 4 } };
    const { page, errors } = await openApp({
      results: {
        ...baseResults,
        list_campaigns: [failedCampaign],
        list_accounts: [],
        resend_failed: 4,
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 5, failed: 0 } },
        'plugin:notification|notify': null,
      },
    });
    await page.locator('[data-screen=results]').click();
    const resend = page.getByTestId('resend-failed');
    assert.equal(await resend.textContent(), 'Resend 4 failed');
    await resend.click();
    await page.getByTestId('campaign-screen').waitFor();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'start_campaign'));
    assert.deepEqual((await calls(page, 'resend_failed')).map((c) => c.args), [{ campaign: 7, includeBounced: false }]);
    const [started] = await calls(page, 'start_campaign');
    assert.equal(started.args.campaign, 7);
    assert.equal(started.args.account, null, 'the account it last ran on');
    // A completed run is announced on the desktop, once.
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'plugin:notification|notify'));
    const notices = await calls(page, 'plugin:notification|notify');
    assert.deepEqual(
      notices.map((c) => c.args),
      [{ options: { title: 'Mailroom', body: 'Campaign “spring” completed.' } }],
    );
    assert.deepEqual(errors.filter((e) => !/did not mock/.test(e.message)), []);
  });

  test('the skipped rows of an import are exported from the Recipients screen', async () => {
    const { page, errors } = await openApp({
      results: { ...baseResults, 'plugin:dialog|save': '/home/ann/spring-skipped.csv', export_recipients: 3 },
    });
    await page.getByTestId('choose-file').click();
    await page.getByTestId('export-skipped').click();
    await page.getByTestId('exported').waitFor();
    const [call] = await calls(page, 'export_recipients');
    assert.deepEqual(call.args.statuses, ['skipped']);
    assert.equal(call.args.path, '/home/ann/spring-skipped.csv');
    assert.deepEqual(errors, []);
  });
});

describe('Files the operating system asks Mailroom to open', () => {
  test('a file given at launch ("Open with") is previewed and imported on the Recipients screen', async () => {
    const { page, errors } = await openApp({
      results: { ...baseResults, take_opened_file: '/home/ann/lists/spring.csv' },
    });
    await page.getByTestId('import-report').waitFor();
    assert.deepEqual((await calls(page, 'preview_import')).map((c) => c.args.path), ['/home/ann/lists/spring.csv']);
    assert.deepEqual((await calls(page, 'import_recipients')).map((c) => c.args.path), ['/home/ann/lists/spring.csv']);
    assert.equal((await calls(page, 'plugin:dialog|open')).length, 0, 'no dialog: the file was given');
    assert.equal((await calls(page, 'take_opened_file')).length, 1, 'taken once');
    assert.deepEqual(errors, []);
  });

  test('a file handed over later (a second launch) brings the Recipients screen forward with its preview', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, take_opened_file: null } });
    await page.locator('[data-screen=smtp]').click();
    await page.getByTestId('smtp-screen').waitFor();
    // The shell keeps the file and announces it; the window takes it.
    await page.evaluate(() => {
      window.__MAILROOM_SCENARIO__.results.take_opened_file = '/tmp/second.csv';
    });
    await page.evaluate(() => window.__mailroom.event('open-file'));
    await page.getByTestId('recipients-screen').waitFor();
    await page.getByTestId('import-report').waitFor();
    assert.deepEqual((await calls(page, 'import_recipients')).map((c) => c.args.path), ['/tmp/second.csv']);
    assert.deepEqual(errors.filter((e) => !/did not mock/.test(e.message)), []);
  });
});
describe('Settings screen', () => {
  const settingsResults = {
    ...baseResults,
    database_info: { path: '/home/ann/.local/share/org.mailroom.desktop/mailroom.db', bytes: 1_234_567 },
    diagnostics: 'Mailroom diagnostics\nProgram:    Mailroom (desktop app) 0.1.0\n',
    open_logs_folder: null,
    show_database_folder: null,
  };

  test('shows the database and changes theme, log level and database through the engine', async () => {
    const { page, errors } = await openApp({
      results: {
        ...settingsResults,
        'plugin:dialog|open': '/home/ann/work/clients.db',
        choose_database: { path: '/home/ann/work/clients.db', bytes: 4096 },
      },
    });
    await page.locator('[data-screen=settings]').click();
    assert.equal(await page.getByTestId('database-path').textContent(), '/home/ann/.local/share/org.mailroom.desktop/mailroom.db');
    assert.equal(await page.getByTestId('database-size').textContent(), 'Size on disk: 1.2 MB');
    assert.equal(await page.getByTestId('log-level').inputValue(), 'info');
    assert.equal(await page.getByTestId('theme-system').isChecked(), true);

    await page.getByTestId('theme-dark').check();
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(background, 'rgb(17, 24, 33)', 'the dark palette applies on a light OS');
    await page.getByTestId('theme-system').check();
    await page.waitForFunction(() => document.documentElement.dataset.theme === undefined);
    assert.deepEqual((await calls(page, 'set_theme')).map((c) => c.args), [{ theme: 'dark' }, { theme: 'system' }]);

    await page.getByTestId('log-level').selectOption('debug');
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'set_log_level'));
    assert.deepEqual((await calls(page, 'set_log_level')).map((c) => c.args), [{ level: 'debug' }]);

    await page.getByTestId('show-database').click();
    await page.getByTestId('open-logs').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'open_logs_folder'));
    assert.equal((await calls(page, 'show_database_folder')).length, 1);

    await page.getByTestId('choose-database').click();
    await page.getByTestId('settings-done').waitFor();
    assert.equal(await page.getByTestId('settings-done').textContent(), 'Now using /home/ann/work/clients.db.');
    assert.deepEqual((await calls(page, 'choose_database')).map((c) => c.args), [{ path: '/home/ann/work/clients.db' }]);
    assert.equal(await page.getByTestId('database-path').textContent(), '/home/ann/work/clients.db');
    const [dialog] = await calls(page, 'plugin:dialog|open');
    assert.deepEqual(dialog.args.options.filters[0].extensions, ['db', 'sqlite', 'sqlite3']);
    // The status bar asks the engine again.
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'database_location').length === 2);
    assert.deepEqual(errors, []);
  });

  test('the settings are kept: a reload finds the theme and log level chosen', async () => {
    const { page } = await openApp({ results: settingsResults });
    await page.locator('[data-screen=settings]').click();
    await page.getByTestId('theme-light').check();
    await page.getByTestId('log-level').selectOption('warn');
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'set_log_level'));
    await page.reload();
    await page.locator('[data-screen=settings]').click();
    assert.equal(await page.getByTestId('theme-light').isChecked(), true);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    assert.equal(await page.getByTestId('log-level').inputValue(), 'warn');
  });

  test('copy diagnostics puts the engine report on the clipboard', async () => {
    const { page, errors } = await openApp({ results: settingsResults });
    await page.locator('[data-screen=settings]').click();
    await page.getByTestId('copy-diagnostics').click();
    await page.getByTestId('settings-done').waitFor();
    assert.equal(await page.getByTestId('settings-done').textContent(), 'Diagnostics copied to the clipboard.');
    const [written] = await calls(page, 'plugin:clipboard-manager|write_text');
    assert.equal(written.args.text, settingsResults.diagnostics);
    assert.deepEqual(errors, []);
  });

  test('choosing another database while a campaign sends is refused with the reason', async () => {
    const { page } = await openApp({
      results: { ...settingsResults, 'plugin:dialog|save': '/home/ann/new.db' },
      failures: { choose_database: { kind: 'database_in_use', message: 'a campaign is sending from the database /x.db' } },
    });
    await page.locator('[data-screen=settings]').click();
    await page.getByTestId('new-database').click();
    const banner = page.getByTestId('error');
    await banner.waitFor();
    assert.match(await banner.textContent(), /A campaign is sending from this database; pause it first\./);
    assert.equal(await page.getByTestId('database-path').textContent(), settingsResults.database_info.path);
  });

  test('is reached and used by keyboard alone', async () => {
    const { page } = await openApp({ results: settingsResults });
    // Tab from the top of the page to the Settings entry of the navigation.
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement?.getAttribute('data-screen') === 'settings')) break;
    }
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-screen')), 'settings');
    await page.keyboard.press('Enter');
    await page.getByTestId('settings-screen').waitFor();
    // On to the theme choice, then arrow keys move it.
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement?.getAttribute('name') === 'theme')) break;
    }
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'theme-system');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
    const focus = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(focus, 'none', 'the focused control shows it');
  });

  test('holds at the smallest window, 820×560, in both languages', async () => {
    for (const locale of ['en-US', 'zh-CN']) {
      context = await browser.newContext({ locale, viewport: { width: 820, height: 560 } });
      const page = await context.newPage();
      await page.addInitScript((s) => (window.__MAILROOM_SCENARIO__ = s), { results: settingsResults });
      await page.goto(site.url);
      await page.locator('[data-screen=settings]').click();
      await page.getByTestId('settings-screen').waitFor();
      const layout = await page.evaluate(() => {
        const main = document.querySelector('main');
        const edge = main.getBoundingClientRect().right;
        const outside = [...main.querySelectorAll('button, select, input, .path')]
          .filter((el) => el.getBoundingClientRect().right > edge + 0.5)
          .map((el) => el.outerHTML.slice(0, 80));
        return { overflow: main.scrollWidth - main.clientWidth, outside, nav: document.querySelector('.sidebar').scrollHeight - document.querySelector('.sidebar').clientHeight };
      });
      assert.equal(layout.overflow, 0, `${locale}: the screen scrolls sideways`);
      assert.deepEqual(layout.outside, [], `${locale}: controls cut off`);
      assert.ok(layout.nav <= 0, `${locale}: the navigation does not fit`);
      await context.close();
      context = undefined;
    }
  });
});

describe('Menus', () => {
  test('are labelled in the window language, with the language and theme checked', async () => {
    const { page, errors } = await openApp({ results: baseResults });
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'set_menu'));
    let [menu] = (await calls(page, 'set_menu')).slice(-1);
    assert.equal(menu.args.labels.file, 'File');
    assert.equal(menu.args.labels.import, 'Import…');
    assert.equal(menu.args.labels.quit, 'Quit Mailroom');
    assert.equal(menu.args.language, 'en');
    assert.equal(menu.args.theme, 'system');
    assert.deepEqual(menu.args.languages, [
      { code: 'en', name: 'English' },
      { code: 'zh-CN', name: '简体中文' },
    ]);

    await page.evaluate(() => window.__mailroom.event('menu', 'language:zh-CN'));
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'set_menu').at(-1)?.args.language === 'zh-CN');
    [menu] = (await calls(page, 'set_menu')).slice(-1);
    assert.equal(menu.args.labels.file, '文件');
    assert.equal(menu.args.labels.import, '导入…');
    assert.equal(menu.args.labels.theme_dark, '深色');
    assert.equal((await page.locator('[data-screen=recipients]').textContent())?.trim(), '收件人');
    assert.deepEqual((await calls(page, 'set_language')).map((c) => c.args), [{ language: 'zh-CN' }]);

    await page.evaluate(() => window.__mailroom.event('menu', 'theme:dark'));
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'set_menu').at(-1)?.args.theme === 'dark');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.deepEqual((await calls(page, 'set_theme')).map((c) => c.args), [{ theme: 'dark' }]);
    assert.deepEqual(errors, []);
  });

  test('File ▸ Import… opens the Recipients file chooser from any screen', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, 'plugin:dialog|open': null } });
    await page.locator('[data-screen=results]').click();
    await page.evaluate(() => window.__mailroom.event('menu', 'import'));
    await page.getByTestId('recipients-screen').waitFor();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'plugin:dialog|open'));
    const [dialog] = await calls(page, 'plugin:dialog|open');
    assert.equal(dialog.args.options.title, 'Choose a recipient list');
    assert.deepEqual(errors, []);
  });

  test('File ▸ Export failed… exports the failed recipients, or says there are none', async () => {
    const failedCampaign = { ...campaign, counts: { ...counts, failed: 4 } };
    const { page, errors } = await openApp({
      results: { ...baseResults, list_campaigns: [failedCampaign], 'plugin:dialog|save': '/home/ann/f.csv', export_recipients: 4 },
    });
    await page.evaluate(() => window.__mailroom.event('menu', 'export_failed'));
    await page.getByTestId('exported').waitFor();
    assert.deepEqual((await calls(page, 'export_recipients')).map((c) => c.args), [
      { campaign: 7, statuses: ['failed'], path: '/home/ann/f.csv' },
    ]);

    const { page: other } = await openApp({ results: baseResults });
    await other.evaluate(() => window.__mailroom.event('menu', 'export_failed'));
    await other.getByTestId('nothing-failed').waitFor();
    assert.equal(await other.getByTestId('nothing-failed').textContent(), 'No campaign has failed recipients to export.');
    assert.equal((await calls(other, 'plugin:dialog|save')).length, 0);
    assert.deepEqual(errors, []);
  });

  test('Help: open logs, copy diagnostics with a notice, and About with version and licences', async () => {
    const { page, errors } = await openApp({
      results: { ...baseResults, open_logs_folder: null, diagnostics: 'Mailroom diagnostics\n' },
    });
    await page.evaluate(() => window.__mailroom.event('menu', 'open_logs'));
    await page.evaluate(() => window.__mailroom.event('menu', 'copy_diagnostics'));
    await page.waitForFunction(() => document.querySelector('[data-testid=notice]')?.textContent?.trim());
    assert.equal((await page.getByTestId('notice').textContent()).trim(), 'Diagnostics copied to the clipboard.');
    assert.equal((await calls(page, 'open_logs_folder')).length, 1);
    assert.equal((await calls(page, 'plugin:clipboard-manager|write_text'))[0].args.text, 'Mailroom diagnostics\n');

    await page.evaluate(() => window.__mailroom.event('menu', 'about'));
    const about = page.getByTestId('about');
    await about.waitFor();
    assert.equal(await page.getByTestId('about-version').textContent(), 'Version 0.1.0');
    await page.getByTestId('licences').waitFor();
    assert.match(await about.textContent(), /MIT licence or the Apache License 2\.0/);
    assert.match(await about.textContent(), /It is built from [\d,]+ open-source components/);
    assert.match(await page.getByTestId('licences').textContent(), /Apache-2\.0 OR MIT: \d+/);
    // A modal: Escape closes it.
    await page.keyboard.press('Escape');
    await about.waitFor({ state: 'detached' });

    await page.evaluate(() => window.__mailroom.event('menu', 'settings'));
    await page.getByTestId('settings-screen').waitFor();
    assert.deepEqual(errors, []);
  });

  test('a failing menu action says why', async () => {
    const { page } = await openApp({
      results: baseResults,
      failures: { open_logs_folder: { kind: 'internal', message: 'cannot open /home/ann/logs: no file manager' } },
    });
    await page.evaluate(() => window.__mailroom.event('menu', 'open_logs'));
    await page.waitForFunction(() => document.querySelector('[data-testid=notice]')?.textContent?.trim());
    assert.match(await page.getByTestId('notice').textContent(), /no file manager/);
  });
});

describe('While a campaign sends', () => {
  const running = (percent, sent, pending) => ({
    events: [
      {
        type: 'progress',
        counts: { ...counts, pending, sent, skipped: 0 },
        percent_done: percent,
        sent_per_second: 5,
        rate: { configured: 5, effective: 5, reason: null },
        eta_seconds: 10,
        elapsed_ms: 1000,
      },
    ],
    omitted: 0,
  });

  for (const [locale, title] of [
    ['en-US', 'Mailroom — 42 % sent'],
    ['zh-CN', 'Mailroom — 已发送 42%'],
  ]) {
    test(`the title and the taskbar show the percentage, cleared when it ends (${locale})`, async () => {
      const { page, errors } = await openApp(
        {
          results: {
            ...baseResults,
            list_accounts: [sandboxAccount],
            start_campaign: { outcome: 'paused', reason: 'paused by you', counts: { ...counts, pending: 29, sent: 21 } },
          },
          messages: { start_campaign: [running(42, 21, 29)] },
          held: ['start_campaign'],
        },
        locale,
      );
      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('start').click();
      await page.waitForFunction(
        (wanted) => window.__mailroom.calls.some((c) => c.command === 'plugin:window|set_title' && c.args.value === wanted),
        title,
      );
      const bars = await calls(page, 'plugin:window|set_progress_bar');
      assert.deepEqual(bars.at(-1).args.value, { status: 'normal', progress: 42 });

      await page.evaluate(() => window.__mailroom.release('start_campaign'));
      await page.waitForFunction(() => {
        const titles = window.__mailroom.calls.filter((c) => c.command === 'plugin:window|set_title');
        return titles.at(-1)?.args.value === 'Mailroom';
      });
      const cleared = await calls(page, 'plugin:window|set_progress_bar');
      assert.deepEqual(cleared.at(-1).args.value, { status: 'none' });
      assert.deepEqual(errors, []);
    });
  }
});

describe('Accessibility: WCAG AA in both themes and both languages', () => {
  const AXE = join(import.meta.dirname, '..', 'node_modules', 'axe-core', 'axe.min.js');
  const captured = { id: 1, received_at: Date.UTC(2026, 2, 1, 9), mail_from: 'news@example.com', rcpt_to: ['ann@example.com'], subject: 'Spring news', size: 900 };
  const failedCampaign = { ...campaign, status: 'completed', counts: { ...counts, pending: 0, sent: 1, failed: 1 } };
  const everything = {
    ...smtpResults,
    list_campaigns: [failedCampaign],
    test_account: refusedDiagnosis,
    list_templates: [],
    get_message: null,
    list_captured: [captured],
    captured_message: {
      ...captured,
      from: 'News <news@example.com>',
      to: ['ann@example.com'],
      date: 'Sun, 1 Mar 2026 09:00:00 +0000',
      text: 'Hello Ann',
      html: null,
      headers: [['Subject', 'Spring news']],
      attachments: [],
      source: 'Subject: Spring news\r\n\r\nHello Ann',
    },
    database_info: { path: '/home/ann/.local/share/org.mailroom.desktop/mailroom.db', bytes: 81920 },
  };

  /** axe-core's WCAG 2.x A and AA rules on the page as it is now. */
  async function axe(page, where) {
    if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
    );
    return result.violations.flatMap((v) =>
      v.nodes.map((n) => `${where}: ${v.id} (${v.impact}) ${n.target.join(' ')} — ${n.failureSummary?.split('\n').slice(1).join(' ')}`),
    );
  }

  /**
   * WCAG 1.4.11, which axe does not check: the edge of every control (its
   * border, or a filled button's background) has 3:1 against what is behind it.
   */
  async function controlEdges(page, where) {
    const weak = await page.evaluate(() => {
      const rgb = (css) => {
        const m = css.match(/rgba?\(([^)]+)\)/);
        if (!m) return null;
        const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
        return { r, g, b, a };
      };
      const over = (top, bottom) => ({
        r: top.r * top.a + bottom.r * (1 - top.a),
        g: top.g * top.a + bottom.g * (1 - top.a),
        b: top.b * top.a + bottom.b * (1 - top.a),
        a: 1,
      });
      const backdrop = (el) => {
        const layers = [];
        for (let node = el; node; node = node.parentElement) {
          const c = rgb(getComputedStyle(node).backgroundColor);
          if (c && c.a > 0) {
            layers.push(c);
            if (c.a === 1) break;
          }
        }
        return layers.reverse().reduce((acc, c) => over(c, acc), { r: 255, g: 255, b: 255, a: 1 });
      };
      const lum = ({ r, g, b }) =>
        [r, g, b]
          .map((v) => v / 255)
          .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
          .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
      const contrast = (a, b) => {
        const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
      };
      const controls = document.querySelectorAll(
        'button, select, textarea, input:not([type=radio]):not([type=checkbox]):not([type=hidden]), .rich',
      );
      const found = [];
      for (const el of controls) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || el.closest('.sidebar, .toolbar, .tabs')) continue;
        const style = getComputedStyle(el);
        const behind = backdrop(el.parentElement);
        const fill = rgb(style.backgroundColor);
        const border = rgb(style.borderTopColor);
        const filled = fill && fill.a > 0 ? contrast(over(fill, behind), behind) : 0;
        const edged = parseFloat(style.borderTopWidth) > 0 && border ? contrast(over(border, behind), behind) : 0;
        if (Math.max(filled, edged) < 3) found.push(`${el.outerHTML.slice(0, 70)} (${Math.max(filled, edged).toFixed(2)}:1)`);
      }
      return found;
    });
    return weak.map((w) => `${where}: control edge below 3:1: ${w}`);
  }

  for (const theme of ['light', 'dark']) {
    for (const locale of ['en-US', 'zh-CN']) {
      test(`every screen in ${theme}, ${locale}`, async () => {
        // Dark follows a dark OS; light is chosen over that same dark OS,
        // so both ways of getting a theme are exercised.
        context = await browser.newContext({ locale, colorScheme: 'dark', viewport: { width: 1180, height: 760 } });
        const page = await context.newPage();
        await page.addInitScript(
          ([s, chosen]) => {
            window.__MAILROOM_SCENARIO__ = s;
            sessionStorage.setItem('mailroom.test.settings', JSON.stringify({ theme: chosen, language: null, log_level: 'info', database: null }));
          },
          [{ results: everything }, theme === 'light' ? 'light' : 'system'],
        );
        await page.goto(site.url);
        await page.getByTestId('recipients-screen').waitFor();
        const dark = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor === 'rgb(17, 24, 33)');
        assert.equal(dark, theme === 'dark', `the ${theme} palette is the one showing`);

        const problems = [];
        const check = async (where) => problems.push(...(await axe(page, where)), ...(await controlEdges(page, where)));
        await check('recipients, empty');
        await page.getByTestId('choose-file').click();
        await page.getByTestId('import-report').waitFor();
        await check('recipients, imported');
        await page.locator('[data-screen=smtp]').click();
        await page.getByTestId('test-connection').click();
        await page.getByTestId('verdict').waitFor();
        await check('smtp, a failed test');
        await page.locator('[data-screen=message]').click();
        await page.getByTestId('message-screen').waitFor();
        await check('message');
        await page.locator('[data-screen=campaign]').click();
        await page.getByTestId('campaign-state').waitFor();
        await check('campaign');
        await page.locator('[data-screen=results]').click();
        await page.getByTestId('resend-failed').waitFor();
        await check('results');
        await page.locator('[data-screen=sandbox]').click();
        await page.getByTestId('captured-row').first().click();
        await page.getByTestId('captured-message').waitFor();
        await check('sandbox, a captured message');
        await page.locator('[data-screen=settings]').click();
        await page.getByTestId('database-path').waitFor();
        await check('settings');
        await page.evaluate(() => window.__mailroom.event('menu', 'about'));
        await page.getByTestId('licences').waitFor();
        await check('about');
        await page.keyboard.press('Escape');
        await page.evaluate(() => window.__mailroom.event('close-requested'));
        await page.getByTestId('close-dialog').waitFor();
        await check('closing while sending');
        assert.deepEqual(problems, []);
      });
    }
  }
});
