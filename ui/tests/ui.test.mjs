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
  suppressed: [{ row: 6, email: 'blocked@example.com', reason: '550 5.1.1 User unknown' }],
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
  merge_fields: ['name', 'email', 'city'],
  default_account: 'Sandbox',
  campaign_accounts: [],
  send_plan: { campaign: 'spring', recipients: 2, accounts: ['Sandbox'], from: 'sender@sandbox.mailroom.local', per_second: null, seconds: null },
};
/** The arguments of an import call that say what to import and how (the choices are one value). */
const importArgs = ({ path, choices, replaces }) => ({
  path,
  emailColumn: choices.email_column,
  encoding: choices.encoding,
  delimiter: choices.delimiter,
  sheet: choices.sheet,
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
      '6blocked@example.comOn the suppression list: “550 5.1.1 User unknown”',
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

  test('of several dropped files, the first the engine accepts is imported', async () => {
    const { page } = await openApp({ results: { ...baseResults, import_extensions: ['csv', 'ods'] } });
    await page.evaluate(() => window.__mailroom.drop(['/tmp/photo.png', '/tmp/notes.xlsx', '/tmp/Lists.ODS', '/tmp/b.csv']));
    await page.getByTestId('import-report').waitFor();
    const imports = await calls(page, 'import_recipients');
    assert.deepEqual(imports.map((c) => c.args.path), ['/tmp/Lists.ODS']);
  });

  test('the file chooser offers the extensions the engine accepts', async () => {
    const { page } = await openApp({ results: { ...baseResults, import_extensions: ['csv', 'ods'] } });
    await page.getByTestId('choose-file').click();
    await page.getByTestId('import-report').waitFor();
    const [dialog] = await calls(page, 'plugin:dialog|open');
    assert.deepEqual(dialog.args.options.filters.map((f) => f.extensions), [['csv', 'ods']]);
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
    assert.equal(previews[1].args.choices.delimiter, ';');
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
    assert.equal(previews[1].args.choices.literal_quotes, true);
    const imports = await calls(page, 'import_recipients');
    assert.equal(imports[0].args.choices.literal_quotes, true);
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

    // The person takes the only column of Notes as the email column first.
    await page.getByTestId('choice-email-column').selectOption('Spring mailing');
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'preview_import').length === 2);
    assert.equal((await calls(page, 'preview_import'))[1].args.choices.email_column, 'Spring mailing');

    // What the engine answers for another sheet: the chosen column is forgotten.
    await page.evaluate(
      ([customers, choices]) => {
        window.__MAILROOM_SCENARIO__.results.preview_import = customers;
        window.__MAILROOM_SCENARIO__.results.choose_import = choices;
      },
      [
        { ...workbook, sheet: 'Customers', columns: ['姓名', '电子邮件'], fields: ['姓名', '电子邮件'], email_column: '电子邮件', rows: [['王芳', 'wang.fang@example.com']] },
        { email_column: null, encoding: null, delimiter: null, sheet: 'Customers', literal_quotes: false },
      ],
    );
    await page.getByTestId('choice-sheet').selectOption('Customers');
    await page.getByTestId('import-report').waitFor();
    const chosen = await calls(page, 'choose_import');
    assert.deepEqual(chosen.at(-1).args, {
      choices: { email_column: 'Spring mailing', encoding: null, delimiter: null, sheet: null, literal_quotes: false },
      change: { choice: 'sheet', value: 'Customers' },
    });
    const [imported] = await calls(page, 'import_recipients');
    assert.equal(imported.args.choices.sheet, 'Customers');
    assert.equal(imported.args.choices.email_column, null, 'the new sheet finds its own column');
    assert.equal(await page.getByTestId('choice-email-column').inputValue(), '电子邮件');
    assert.deepEqual(await page.getByTestId('preview').locator('tbody td').allTextContents(), ['王芳', 'wang.fang@example.com']);
    assert.deepEqual(errors, []);
  });

  test('a long import shows its progress and can be cancelled', async () => {
    const { page, errors } = await openApp({
      results: baseResults,
      held: ['import_recipients'],
      messages: { import_recipients: [{ events: [{ rows: 120000, fraction: 0.45 }], omitted: 0 }] },
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

  test('the catalogs write exactly the plural forms each language has', async () => {
    const { page } = await openApp({ results: baseResults });
    // en.ts types English's plural messages with `EnglishForms` and Chinese's with `ChineseForms`.
    const categories = await page.evaluate(() =>
      ['en', 'zh-CN'].map((locale) => [...new Intl.PluralRules(locale).resolvedOptions().pluralCategories].sort()),
    );
    assert.deepEqual(categories, [['one', 'other'], ['other']]);
  });

  test('one recipient and two recipients are said in the form each language gives them', async () => {
    const plan = (recipients) => ({ campaign: 'spring', recipients, accounts: ['Sandbox'], from: 'news@example.org', per_second: 5, seconds: 398 });
    for (const [locale, count, said] of [
      ['en-US', 1, /^1 recipient through “Sandbox”, from news@example\.org, at 5\.0\/s: about 7 min\.$/],
      ['en-US', 2, /^2 recipients through “Sandbox”, from news@example\.org, at 5\.0\/s: about 7 min\.$/],
      ['en-US', 1988, /^1,988 recipients through/],
      ['zh-CN', 1, /^1 位收件人，通过 “Sandbox”/],
      ['zh-CN', 2, /^2 位收件人，通过 “Sandbox”/],
    ]) {
      const { page, errors } = await openApp({ results: { ...baseResults, list_accounts: [sandboxAccount], send_plan: plan(count) } }, locale);
      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('send-plan').waitFor();
      assert.match(await page.getByTestId('send-plan').textContent(), said, `${locale}, ${count}`);
      assert.deepEqual(errors, []);
    }
  });

  test('one recipient whose file is missing is one recipient, in each language', async () => {
    const check = (count) => ({
      fields: ['email', 'name', 'city'],
      missing_attachment_count: count,
      missing_attachments: [{ row: 3, email: 'li@example.cn', path: '/home/ann/invoices/li.pdf', problem: null }],
      message_bytes: 900,
    });
    for (const [locale, count, said] of [
      ['en-US', 1, "1 recipient's attachment file is not there yet or cannot be attached."],
      ['en-US', 2, "2 recipients' attachment files are not there yet or cannot be attached."],
      ['zh-CN', 1, '1 位收件人的附件文件尚不存在或无法附加。'],
    ]) {
      const preview_message = {
        message: { row: 2, to: 'ann@example.com', subject: 'Hi', text: 'Hi', html: null, message_id: '<mailroom.7.2.a@example.org>', attachments: [] },
        source: null,
        skipped: null,
      };
      const { page, errors } = await openApp(
        { results: { ...baseResults, list_accounts: [], list_templates: [], get_message: null, save_message: check(count), preview_message } },
        locale,
      );
      await page.locator('[data-screen=message]').click();
      await page.getByTestId('preview').click();
      await page.getByTestId('missing-attachments').waitFor();
      assert.equal(await page.getByTestId('missing-attachments').locator('p').first().textContent(), said);
      assert.deepEqual(errors, []);
    }
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
  outage_limit_ms: 600_000,
  rules: { added: [], removed: [] },
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
  stages: [
    { stage: 'dns', outcome: 'passed', duration_ms: 0, detail: '127.0.0.1 → 127.0.0.1', problem: null, code: null, enhanced_code: null, extensions: [] },
    { stage: 'connect', outcome: 'failed', duration_ms: 1, detail: 'connect: 127.0.0.1:2526: connection refused', problem: 'refused', code: null, enhanced_code: null, extensions: [] },
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
    assert.deepEqual(save.args.password, { change: 'set', password: 'app-pw' });
    assert.equal(save.args.settings.host, 'smtp.gmail.com');
    assert.equal(save.args.settings.security, 'starttls');
    assert.equal(save.args.settings.per_day, 500);
    assert.equal(save.args.settings.username, 'me@gmail.com');
    // After saving, the field is empty and says a password is stored.
    assert.equal(await page.getByTestId('field-password').inputValue(), '');
    assert.match(await page.getByTestId('field-password').getAttribute('placeholder'), /Stored/);
    assert.deepEqual(errors, []);
  });

  test('the form shows what the engine warns of the connection being set up, asking again as it changes, in each language', async () => {
    const { page, errors } = await openApp({ results: smtpResults });
    await page.locator('[data-screen=smtp]').click();
    await page.getByTestId('add-account').click();
    const warnings = () => page.locator('p.warning[data-testid^=warning-]').evaluateAll((ps) => ps.map((p) => [p.dataset.testid, p.textContent]));
    const asked = () => page.evaluate(() => window.__mailroom.calls.filter((c) => c.command === 'connection_warnings').map((c) => c.args));
    await page.evaluate(() => window.__mailroom.answer('connection_warnings', ['no_encryption']));
    await page.getByTestId('field-host').fill('smtp.example.org');
    await page.getByTestId('field-security').selectOption('none');
    await page.waitForFunction(() => document.querySelectorAll('p.warning[data-testid^=warning-]').length === 1);
    assert.deepEqual(await warnings(), [['warning-no_encryption', 'No encryption: the password and every message cross the network in clear text.']]);
    const last = (await asked()).at(-1);
    assert.deepEqual(last, { security: 'none', host: 'smtp.example.org', acceptInvalidCerts: false });
    // What the engine answers for the new fields replaces the old answer.
    await page.evaluate(() => window.__mailroom.answer('connection_warnings', []));
    await page.getByTestId('field-host').fill('localhost');
    await page.waitForFunction(() => document.querySelectorAll('p.warning[data-testid^=warning-]').length === 0);
    assert.equal((await asked()).at(-1).host, 'localhost');
    await page.evaluate(() => window.__mailroom.answer('connection_warnings', ['no_encryption', 'certificates_not_checked']));
    await page.locator('details summary', { hasText: 'Limits, timeouts and advanced settings' }).click();
    await page.getByTestId('field-accept-invalid').check();
    await page.waitForFunction(() => document.querySelectorAll('p.warning[data-testid^=warning-]').length === 2);
    assert.equal((await asked()).at(-1).acceptInvalidCerts, true);
    assert.deepEqual((await warnings()).map(([id]) => id), ['warning-no_encryption', 'warning-certificates_not_checked']);
    await page.evaluate(() => window.__mailroom.event('menu', 'language:zh-CN'));
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    assert.deepEqual((await warnings()).map(([, text]) => text), ['未加密：密码和每封邮件都将以明文在网络上传输。', '不检查证书：网络路径上的任何人都可能读取这些邮件。']);
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

const mailboxSettings = {
  host: 'imap.example.com',
  port: 993,
  security: 'tls',
  username: 'bounces@example.com',
  folder: 'INBOX',
  connect_timeout_ms: 10000,
  command_timeout_ms: 30000,
  accept_invalid_certs: false,
  processed: 'flag',
  processed_folder: null,
  soft_bounce_limit: 3,
  scan_every_minutes: 0,
};
const greeting = '* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot ready.';
/** A Test connection that worked, each step's detail as the engine reports it: data, not sentences. */
const mailboxWorks = {
  host: 'imap.example.com',
  port: 993,
  ok: true,
  problem: null,
  stages: [
    { stage: 'dns', outcome: 'passed', duration_ms: 3, detail: { kind: 'resolved', host: 'imap.example.com', addresses: ['192.0.2.1', '2001:db8::1'] }, problem: null },
    { stage: 'connect', outcome: 'passed', duration_ms: 20, detail: { kind: 'connected', peer: '192.0.2.1:993' }, problem: null },
    {
      stage: 'tls',
      outcome: 'passed',
      duration_ms: 41,
      detail: { kind: 'encrypted', tls: { protocol: 'TLSv1.3', subject: 'CN=imap.example.com', issuer: 'CN=Example CA', expires: '2027-03-01', days_left: 89 } },
      problem: null,
    },
    { stage: 'greeting', outcome: 'passed', duration_ms: 5, detail: { kind: 'greeting', reply: greeting }, problem: null },
    { stage: 'login', outcome: 'passed', duration_ms: 30, detail: { kind: 'logged_in', user: 'bounces@example.com' }, problem: null },
    { stage: 'select', outcome: 'passed', duration_ms: 8, detail: { kind: 'selected', folder: 'INBOX', messages: 1204, uid_validity: 1700000000 }, problem: null },
  ],
};

describe('Mailbox screen', () => {
  test('a Test connection that worked says what each step found in English and in 简体中文, the server’s words verbatim', async () => {
    const { page, errors } = await openApp({
      results: {
        ...smtpResults,
        list_mailboxes: [{ id: 1, account: 'Sandbox', settings: mailboxSettings, has_password: true, warnings: [], scan: { uid_validity: null, last_uid: 0, last_scan_at: null, last_scan_error: null } }],
        list_suppressions: { total: 0, entries: [] },
        test_mailbox: mailboxWorks,
      },
    });
    await page.locator('[data-screen=mailbox]').click();
    await page.getByTestId('test-mailbox').click();
    await page.getByTestId('mailbox-verdict').waitFor();
    assert.equal(await page.getByTestId('mailbox-verdict').getAttribute('data-ok'), 'true');
    const [run] = await calls(page, 'test_mailbox');
    assert.equal(run.args.account, 'Sandbox');
    const details = () => page.locator('[data-testid=mailbox-stage] .detail').allTextContents();
    assert.deepEqual(await details(), [
      'imap.example.com → 192.0.2.1, 2001:db8::1',
      'connected to 192.0.2.1:993',
      'TLSv1.3, certificate CN=imap.example.com, expires Mar 1, 2027 (in 89 days)',
      `“${greeting}”`,
      'logged in as bounces@example.com',
      'INBOX: 1,204 messages',
    ]);

    await page.evaluate(() => window.__mailroom.event('menu', 'language:zh-CN'));
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    const zh = await details();
    assert.equal(zh[5], 'INBOX：1,204 封邮件', 'the count is written as Chinese writes numbers');
    // Every step's name and detail, less the data (host, addresses, the
    // certificate, the account's user and folder), the server's own words
    // and the protocol's name (TLS, as language.test.mjs allows it), has no
    // Latin letters left: the window says it all in Chinese.
    const rows = await page
      .locator('[data-testid=mailbox-stage]')
      .evaluateAll((lis) => lis.map((li) => `${li.querySelector('.stage-name')?.textContent ?? ''} ${li.querySelector('.detail')?.textContent ?? ''}`));
    const data = [greeting, 'CN=imap.example.com', 'imap.example.com', 'TLSv1.3', 'bounces@example.com', 'INBOX', '2001:db8::1', '192.0.2.1'];
    assert.equal(rows.length, 6);
    for (const row of rows) {
      const left = data.reduce((text, d) => text.split(d).join(' '), row).replace(/\bTLS\b/g, ' ');
      assert.doesNotMatch(left, /[A-Za-z]/, `Latin letters in ${JSON.stringify(row)}`);
    }
    assert.match(zh[1], /^已连接到 192\.0\.2\.1:993$/);
    assert.match(zh[2], /^TLSv1\.3，证书 CN=imap\.example\.com，2027年3月1日 到期（还有 89 天）$/);
    assert.equal(zh[3], `“${greeting}”`);
    assert.equal(zh[4], '已以 bounces@example.com 登录');
    assert.match(await page.getByTestId('mailbox-verdict').textContent(), /一切正常/);
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
          path: '../secret.txt',
          problem: {
            part: 'recipient',
            row: null,
            line: null,
            problem: { kind: 'attachment', problem: { kind: 'outside_folder', name: '../secret.txt', folder: '/home/ann/invoices' } },
          },
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
    assert.match(await page.getByTestId('message-size').textContent(), /250 kB/);
    const missing = await page.getByTestId('missing-attachments').textContent();
    assert.match(missing, /^2 recipients' attachment files are not there yet/);
    assert.match(missing, /li@example\.cn.*li\.pdf/s);
    // A refused file says why, from the typed problem.
    assert.equal(
      await page.getByTestId('file-problem').textContent(),
      'the file name “../secret.txt” leads out of the folder “/home/ann/invoices”: a recipient’s file must be inside it',
    );
    assert.deepEqual(errors, []);
  });

  test('Save as template asks for the name in an in-app dialog: Esc cancels, Enter saves', async () => {
    const { page, errors } = await openApp({ results: { ...results, save_template: null } });
    await page.locator('[data-screen=message]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=rich-editor]')?.textContent === 'Old body');
    await page.getByRole('button', { name: 'Save as template…' }).click();
    const dialog = page.getByTestId('text-dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /Template name/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'save_template')).length, 0);

    await page.getByRole('button', { name: 'Save as template…' }).click();
    await page.getByTestId('text-dialog-input').fill('  Spring offer ');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    const [saved] = await calls(page, 'save_template');
    assert.equal(saved.args.name, 'Spring offer');
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
  // What the shell asks with (background.rs: CloseQuestion).
  const whileSending = { sending: ['spring'], next: null, away: 'tray' };
  // Thursday 2026-12-03 09:00 in Berlin.
  const autumn = { campaign: 8, name: 'autumn', start_at: Date.UTC(2026, 11, 3, 8, 0), time_zone: 'Europe/Berlin' };

  test('while a campaign sends, closing asks; Cancel stays, Pause and quit pauses everything', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, pause_all_and_quit: null } });
    await page.evaluate((q) => window.__mailroom.event('close-requested', q), whileSending);
    const dialog = page.getByTestId('close-dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /A campaign is sending/);
    assert.match(await dialog.textContent(), /“spring” is sending\./);
    await page.getByTestId('close-cancel').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'pause_all_and_quit')).length, 0);
    assert.equal((await calls(page, 'keep_running_in_background')).length, 0);

    await page.evaluate((q) => window.__mailroom.event('close-requested', q), whileSending);
    assert.equal(await page.getByTestId('keep-running').textContent(), 'Keep running in the background');
    assert.equal(await page.getByTestId('pause-and-quit').textContent(), 'Pause and quit');
    await page.getByTestId('pause-and-quit').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'pause_all_and_quit'));
    assert.deepEqual(errors, []);
  });

  test('with a scheduled start, closing offers to keep running in the tray, with the menu in the window\'s words', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, keep_running_in_background: 'tray' } });
    await page.evaluate((q) => window.__mailroom.event('close-requested', q), { sending: [], next: autumn, away: 'tray' });
    const dialog = page.getByTestId('close-dialog');
    await dialog.waitFor();
    const text = await dialog.textContent();
    assert.match(text, /A campaign is scheduled/);
    assert.match(text, /“autumn” is scheduled to start at Thu, Dec 3, 2026, 09:00/);
    assert.match(await page.getByTestId('close-away').textContent(), /stays in the tray/);
    assert.equal(await page.getByTestId('pause-and-quit').textContent(), 'Quit; the schedule waits');
    // The first control has the focus: Enter keeps it running.
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    const [asked] = await calls(page, 'keep_running_in_background');
    assert.deepEqual(asked.args.labels, {
      tooltip: 'Mailroom',
      show: 'Show Mailroom',
      quit: 'Quit Mailroom',
      sending: 'Sending “{name}”',
      next: 'Next: “{name}” at {time}',
      idle: 'Nothing left to send',
    });
    assert.equal((await calls(page, 'pause_all_and_quit')).length, 0);
    assert.deepEqual(errors, []);
  });

  test('where no tray can be shown, the choice says the window is minimised; a failure is shown and the question stays', async () => {
    const { page, errors } = await openApp({
      results: baseResults,
      failures: { keep_running_in_background: { kind: 'internal', message: 'no window to put away' } },
    });
    await page.evaluate((q) => window.__mailroom.event('close-requested', q), { sending: ['spring'], next: autumn, away: 'minimised' });
    const dialog = page.getByTestId('close-dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /“autumn” is scheduled to start at .*; it waits too if Mailroom quits\./);
    assert.match(await page.getByTestId('close-away').textContent(), /minimised instead/);
    assert.equal(await page.getByTestId('keep-running').textContent(), 'Keep running (minimised)');
    await page.getByTestId('keep-running').click();
    await page.getByText('no window to put away').waitFor();
    assert.ok(await dialog.isVisible(), 'the question stays after a failure');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.deepEqual(errors, []);
  });

  test('a run that ends tells the shell after its notification, so Mailroom in the background may quit', async () => {
    const { page, errors } = await openApp({
      results: {
        ...baseResults,
        list_accounts: [sandboxAccount],
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 5, skipped: 0 } },
        'plugin:notification|notify': null,
      },
      held: ['plugin:notification|notify'],
    });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('start').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'plugin:notification|notify'));
    assert.equal((await calls(page, 'run_settled')).length, 0, 'told before the notification was out');
    await page.evaluate(() => window.__mailroom.release('plugin:notification|notify'));
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'run_settled'));
    assert.deepEqual((await calls(page, 'run_settled')).map((c) => c.args), [{ needsAttention: false }]);
    assert.deepEqual(errors, []);
  });

  test('a run that pauses by itself or fails asks the shell to bring the window back', async () => {
    for (const [scenario, wanted] of [
      [{ results: { start_campaign: { outcome: 'paused', reason: null, counts } } }, true],
      [{ failures: { start_campaign: { kind: 'campaign_state', message: 'choose the SMTP account' } } }, true],
    ]) {
      const { page, errors } = await openApp({
        results: { ...baseResults, list_accounts: [sandboxAccount], ...scenario.results },
        failures: scenario.failures,
      });
      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('start').click();
      await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'run_settled'));
      assert.deepEqual((await calls(page, 'run_settled')).map((c) => c.args), [{ needsAttention: wanted }]);
      assert.deepEqual(errors, []);
    }
  });
});

describe('Dialogs hold the keyboard', () => {
  test('the closing question keeps Tab inside it, and Esc answers Cancel', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, pause_all_and_quit: null } });
    await page.evaluate(() => window.__mailroom.event('close-requested', { sending: ['spring'], next: null, away: 'tray' }));
    const dialog = page.getByTestId('close-dialog');
    await dialog.waitFor();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      const inside = await page.evaluate(() => !!document.activeElement?.closest('[data-testid=close-dialog]'));
      assert.ok(inside, `Tab ${i + 1} left the dialog`);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'pause_all_and_quit')).length, 0);
    assert.deepEqual(errors, []);
  });

  test('Delete all in the Sandbox asks first; Cancel deletes nothing', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, list_captured: [{ id: 1, received_at: Date.UTC(2026, 2, 1, 9), mail_from: 'news@example.com', rcpt_to: ['ann@example.com'], subject: 'Spring news', size: 900 }], clear_captured: null } });
    await page.locator('[data-screen=sandbox]').click();
    await page.getByTestId('captured-row').first().waitFor();
    await page.getByRole('button', { name: 'Delete all' }).click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    await page.getByTestId('confirm-cancel').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'clear_captured')).length, 0);
    await page.getByRole('button', { name: 'Delete all' }).click();
    await page.getByTestId('confirm-ok').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'clear_captured'));
    assert.deepEqual(errors, []);
  });
});

/** A page of the suppression list as the engine sends it. */
const suppressionPage = {
  total: 3,
  entries: [
    { email: 'gone@example.com', reason: '550 5.1.1 User unknown', source: { kind: 'no_such_user' }, created_at: Date.UTC(2026, 10, 20, 8) },
    { email: 'full@example.org', reason: 'hard bounce 5.2.2', source: { kind: 'bounce', account: 'work' }, created_at: Date.UTC(2026, 10, 19, 8) },
    { email: 'li@example.cn', reason: 'asked by phone', source: { kind: 'imported', file: 'old.xlsx' }, created_at: Date.UTC(2026, 10, 18, 8) },
  ],
};
const suppressionResults = {
  ...baseResults,
  list_suppressions: suppressionPage,
  add_suppression: true,
  remove_suppression: null,
  'plugin:dialog|open': '/home/ann/lists/unsubscribed.xlsx',
  'plugin:dialog|save': '/home/ann/suppressed.csv',
  import_suppressions: {
    file: 'unsubscribed.xlsx',
    rows: 12,
    added: 9,
    already: 1,
    duplicates: 1,
    invalid: [{ row: 7, value: 'nobody', reason: 'missing_at' }],
    saved: false,
  },
  export_suppressions: 3,
};

describe('Suppression screen', () => {
  test('lists every address with its reason, source and date, and searches in the engine', async () => {
    const { page, errors } = await openApp({ results: suppressionResults });
    await page.locator('[data-screen=suppression]').click();
    await page.getByTestId('suppression-table').waitFor();
    assert.equal(await page.locator('main h1').textContent(), 'Suppression list');
    const rows = page.getByTestId('suppression-row');
    assert.equal(await rows.count(), 3);
    const cells = await rows.nth(1).locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 3), ['full@example.org', '“hard bounce 5.2.2”', 'bounce scan of work']);
    assert.match(cells[3], /2026/);
    assert.equal(await rows.nth(0).locator('td').nth(2).textContent(), 'a send (no such user)');
    assert.equal(await rows.nth(2).locator('td').nth(2).textContent(), 'imported from old.xlsx');
    assert.equal(await page.getByTestId('suppression-count').textContent(), '3 of 3');

    await page.getByTestId('suppression-search').fill('example.org');
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'list_suppressions' && c.args.search === 'example.org'));
    const searches = await calls(page, 'list_suppressions');
    assert.deepEqual(searches.at(-1).args, { search: 'example.org', offset: 0, limit: 50 });
    assert.deepEqual(errors, []);
  });

  test('an address is added by keyboard alone, and removed only after the person confirms', async () => {
    const { page, errors } = await openApp({ results: suppressionResults });
    await page.locator('[data-screen=suppression]').click();
    await page.getByTestId('suppression-table').waitFor();
    await page.getByTestId('suppression-new-email').focus();
    await page.keyboard.type('ann@example.com');
    await page.keyboard.press('Tab');
    await page.keyboard.type('asked by phone');
    await page.keyboard.press('Enter');
    await page.getByTestId('suppression-notice').waitFor();
    assert.equal(await page.getByTestId('suppression-notice').textContent(), 'ann@example.com is on the suppression list.');
    const [added] = await calls(page, 'add_suppression');
    assert.deepEqual(added.args, { email: 'ann@example.com', reason: 'asked by phone' });

    const remove = page.getByRole('button', { name: 'Remove gone@example.com' });
    await remove.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent(), /Remove gone@example\.com from the suppression list\?/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'remove_suppression')).length, 0, 'Esc removes nothing');
    await remove.click();
    await page.getByTestId('confirm-ok').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'remove_suppression'));
    const [removed] = await calls(page, 'remove_suppression');
    assert.deepEqual(removed.args, { email: 'gone@example.com' });
    assert.deepEqual(errors, []);
  });

  test('an import says its counts before anything is added; the list exports to the chosen file', async () => {
    const { page, errors } = await openApp({ results: suppressionResults });
    await page.locator('[data-screen=suppression]').click();
    await page.getByTestId('suppression-table').waitFor();
    await page.getByTestId('suppression-import').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    const text = await dialog.textContent();
    assert.match(text, /Add 9 addresses from unsubscribed\.xlsx\?/);
    assert.match(text, /12 rows: 9 new, 1 already on the list, 1 repeated, 1 not an address \(left out\)/);
    assert.deepEqual((await calls(page, 'import_suppressions')).map((c) => c.args), [{ path: '/home/ann/lists/unsubscribed.xlsx', mode: 'check' }]);
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('suppression-notice').waitFor();
    assert.deepEqual((await calls(page, 'import_suppressions')).map((c) => c.args.mode), ['check', 'save']);
    const [opened] = await calls(page, 'plugin:dialog|open');
    assert.deepEqual(opened.args.options.filters[0].extensions, ['csv', 'tsv', 'txt', 'xlsx', 'xlsm', 'xlsb', 'xls', 'ods']);

    await page.getByTestId('suppression-export').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=suppression-notice]')?.textContent?.startsWith('Wrote'));
    assert.equal(await page.getByTestId('suppression-notice').textContent(), 'Wrote 3 addresses to /home/ann/suppressed.csv.');
    const [exported] = await calls(page, 'export_suppressions');
    assert.deepEqual(exported.args, { path: '/home/ann/suppressed.csv' });
    assert.deepEqual(errors, []);
  });

  for (const locale of ['en-US', 'zh-CN']) {
    test(`holds its layout at the smallest window, 820×560, in ${locale}`, async () => {
      const { page } = await openApp({ results: suppressionResults }, locale);
      await page.setViewportSize({ width: 820, height: 560 });
      await page.locator('[data-screen=suppression]').click();
      await page.getByTestId('suppression-table').waitFor();
      const overflow = await page.evaluate(() => {
        const main = document.querySelector('main');
        const wide = [...document.querySelectorAll('[data-testid=suppression-screen] *')].filter(
          (el) => el.getBoundingClientRect().right > (main?.getBoundingClientRect().right ?? 0) + 1 && !el.closest('.table-wrap'),
        );
        return { page: document.documentElement.scrollWidth - document.documentElement.clientWidth, wide: wide.map((el) => el.outerHTML.slice(0, 60)) };
      });
      assert.deepEqual(overflow, { page: 0, wide: [] });
    });
  }

  test('a refused address shows the engine’s reason', async () => {
    const { page } = await openApp({
      results: suppressionResults,
      failures: { add_suppression: { kind: 'not_an_address', message: '"nobody" cannot go on the suppression list: the address has no @' } },
    });
    await page.locator('[data-screen=suppression]').click();
    await page.getByTestId('suppression-new-email').fill('nobody@x');
    await page.getByTestId('suppression-add-button').click();
    await page.getByTestId('error').waitFor();
    assert.equal(await page.getByTestId('error').getAttribute('data-kind'), 'not_an_address');
  });
});

describe('Deleting a campaign', () => {
  const finished = { ...campaign, status: 'completed', counts: { ...counts, pending: 0, sent: 2 }, sent_by: null, interrupted: false };

  test('asks, hides the campaign with Undo, and deletes it only when Undo has passed', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, list_campaigns: [finished], delete_campaign: null } });
    await page.clock.install();
    await page.locator('[data-screen=results]').click();
    const rows = page.getByTestId('campaigns').locator('tbody tr');
    await rows.first().waitFor();
    await page.getByRole('button', { name: 'Delete campaign “spring”' }).click();
    await page.getByTestId('confirm-cancel').click();
    assert.equal(await rows.count(), 1, 'Cancel keeps it');

    await page.getByTestId('delete-campaign').click();
    assert.match(await page.getByTestId('confirm-dialog').textContent(), /Its 5 recipients/);
    await page.getByTestId('confirm-ok').click();
    await page.getByTestId('deleted-notice').waitFor();
    assert.equal(await rows.count(), 0, 'hidden at once');
    await page.getByTestId('undo-delete').click();
    assert.equal(await rows.count(), 1, 'Undo brings it back');
    await page.clock.runFor(10_000);
    assert.equal((await calls(page, 'delete_campaign')).length, 0, 'an undone deletion never reaches the engine');

    await page.getByTestId('delete-campaign').click();
    await page.getByTestId('confirm-ok').click();
    await page.clock.runFor(5_000);
    assert.equal((await calls(page, 'delete_campaign')).length, 0, 'Undo is still offered');
    await page.clock.runFor(2_000);
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'delete_campaign'));
    assert.deepEqual((await calls(page, 'delete_campaign')).map((c) => c.args), [{ campaign: 7 }]);
    await page.getByTestId('deleted-notice').waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 0);
    assert.deepEqual(errors, []);
  });

  test('a campaign being sent cannot be deleted; a refusal brings the row back with the reason', async () => {
    const sending = { ...finished, id: 8, name: 'busy', status: 'running', sent_by: 'mailroom (process 4242)' };
    const { page } = await openApp({
      results: { ...baseResults, list_campaigns: [sending, finished] },
      failures: { delete_campaign: { kind: 'campaign_state', message: 'campaign spring is being sent (by mailroom (process 9)); stop it first, then delete it' } },
    });
    await page.clock.install();
    await page.locator('[data-screen=results]').click();
    const buttons = page.getByTestId('delete-campaign');
    await buttons.first().waitFor();
    assert.equal(await buttons.nth(0).isDisabled(), true);
    await buttons.nth(1).click();
    await page.getByTestId('confirm-ok').click();
    await page.clock.runFor(7_000);
    await page.getByTestId('error').waitFor();
    assert.equal(await page.getByTestId('error').getAttribute('data-kind'), 'campaign_state');
    assert.equal(await page.getByTestId('campaigns').locator('tbody tr').count(), 2);
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
    const plan = (includeBounced) => ({
      choice: { reasons: null, include_suppressed: false, include_uncertain: false, include_bounced: includeBounced },
      failed: [{ reason: 'gave_up', count: 2 }],
      suppressed: 0,
      uncertain: 0,
      bounced: 3,
      to_send: includeBounced ? 5 : 2,
      left_out: includeBounced ? [] : [{ why: { why: 'bounced' }, count: 3 }],
    });
    const { page, errors } = await openApp({
      results: {
        ...baseResults,
        list_campaigns: [bounced],
        list_accounts: [],
        resend_plan: plan(false),
        resend_chosen: plan(true),
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 7, failed: 0, bounced: 3 } },
        'plugin:notification|notify': null,
      },
    });
    await page.locator('[data-screen=results]').click();
    assert.equal(await page.getByTestId('status-bounced').locator('dd').textContent(), '3');
    await page.getByTestId('resend-failed').click();
    await page.getByTestId('resend-dialog').waitFor();
    assert.match(await page.getByTestId('resend-summary').textContent(), /2 recipients will be sent again\.\s*Left out: 3 bounced\./);
    await page.getByTestId('include-bounced').check();
    await page.getByTestId('resend-confirm').click();
    await page.getByTestId('campaign-screen').waitFor();
    const [chosen] = await calls(page, 'resend_chosen');
    assert.deepEqual(chosen.args, {
      campaign: 7,
      choice: { reasons: null, include_suppressed: false, include_uncertain: false, include_bounced: true },
    });
    assert.deepEqual(errors, []);
  });

  test('Resend failed puts the failed recipients back and starts a run on the Campaign screen', async () => {
    const failedCampaign = { ...campaign, status: 'completed', counts: { ...counts, pending: 0, sent: 1, failed: 4 } };
    const plan = {
      choice: { reasons: null, include_suppressed: false, include_uncertain: false, include_bounced: false },
      failed: [{ reason: 'smtp', count: 4 }],
      suppressed: 0,
      uncertain: 0,
      bounced: 0,
      to_send: 4,
      left_out: [],
    };
    const { page, errors } = await openApp({
      results: {
        ...baseResults,
        list_campaigns: [failedCampaign],
        list_accounts: [],
        resend_plan: plan,
        resend_chosen: plan,
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 5, failed: 0 } },
        'plugin:notification|notify': null,
      },
    });
    await page.locator('[data-screen=results]').click();
    await page.getByTestId('resend-failed').click();
    const confirm = page.getByTestId('resend-confirm');
    await page.getByTestId('resend-summary').waitFor();
    assert.equal(await confirm.textContent(), 'Resend 4');
    await confirm.click();
    await page.getByTestId('campaign-screen').waitFor();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'start_campaign'));
    assert.deepEqual((await calls(page, 'resend_chosen')).map((c) => c.args.campaign), [7]);
    const [started] = await calls(page, 'start_campaign');
    assert.equal(started.args.campaign, 7);
    assert.deepEqual(started.args.accounts, [], 'the campaign’s own accounts');
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

describe('The window, finished: the keyboard', () => {
  const captured = { id: 1, received_at: Date.UTC(2026, 2, 1, 9), mail_from: 'news@example.com', rcpt_to: ['ann@example.com'], subject: 'Spring news', size: 900 };
  const capturedMessage = {
    ...captured,
    from: 'News <news@example.com>',
    to: ['ann@example.com'],
    date: 'Sun, 1 Mar 2026 09:00:00 +0000',
    text: 'Hello Ann',
    html: null,
    headers: [['Subject', 'Spring news']],
    attachments: [],
    source: 'Subject: Spring news\r\n\r\nHello Ann',
  };
  const withFailures = { ...campaign, status: 'completed', counts: { ...counts, pending: 0, sent: 1, failed: 1 } };
  const everything = {
    ...smtpResults,
    list_campaigns: [withFailures],
    list_templates: [],
    get_message: null,
    list_captured: [captured],
    captured_message: capturedMessage,
    list_mailboxes: [],
    list_suppressions: [],
    database_info: { path: '/home/ann/.local/share/org.mailroom.desktop/mailroom.db', bytes: 81920 },
  };

  /** Presses Tab until `matches` holds for the focused element; how many presses it took. */
  async function tabTo(page, matches, limit = 40) {
    for (let i = 1; i <= limit; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(matches)) return i;
    }
    throw new Error(`not reached in ${limit} presses of Tab`);
  }

  test('"Skip to content" is the first Tab stop on every screen, shown when focused, and Enter jumps past the navigation', async () => {
    const { page, errors } = await openApp({ results: everything });
    // As the window opens: the first Tab.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'skip-link');
    const box = await page.getByTestId('skip-link').boundingBox();
    assert.ok(box && box.y >= 0, 'the focused skip link is on screen');
    for (const screen of ['recipients', 'smtp', 'message', 'campaign', 'results', 'mailbox', 'sandbox', 'settings']) {
      await page.locator(`[data-screen=${screen}]`).click();
      await page.getByTestId(`${screen}-screen`).waitFor();
      // The first Tab stop in the document, whatever the screen.
      const first = await page.evaluate(() => {
        const stops = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')].filter(
          (el) => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length > 0,
        );
        return stops[0]?.getAttribute('data-testid');
      });
      assert.equal(first, 'skip-link', `on ${screen} the first Tab stop is ${first}`);
      await page.getByTestId('skip-link').focus();
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      const inScreen = await page.evaluate(() => !!document.activeElement?.closest('main') && !document.activeElement?.closest('nav'));
      assert.ok(inScreen, `after the skip link, Tab lands in the ${screen} screen`);
    }
    assert.deepEqual(errors, []);
  });

  test('Sandbox messages are reached with Tab and opened with Enter or Space', async () => {
    const second = { ...captured, id: 2, subject: 'Autumn news' };
    const { page, errors } = await openApp({ results: { ...everything, list_captured: [captured, second] } });
    await page.locator('[data-screen=sandbox]').click();
    await page.getByTestId('captured-row').first().waitFor();
    await page.getByTestId('skip-link').focus();
    await tabTo(page, () => document.activeElement?.getAttribute('data-testid') === 'open-captured');
    await page.keyboard.press('Enter');
    await page.getByTestId('captured-message').waitFor();
    let opened = await calls(page, 'captured_message');
    assert.deepEqual(opened.map((c) => c.args.id), [1]);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Autumn news');
    await page.keyboard.press('Space');
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'captured_message').length === 2);
    opened = await calls(page, 'captured_message');
    assert.deepEqual(opened.map((c) => c.args.id), [1, 2]);
    // The focused control shows it: a ring of 3 px.
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineWidth);
    assert.equal(ring, '3px');
    assert.deepEqual(errors, []);
  });

  test('"Choose file…" clicked twice opens one dialog', async () => {
    const { page, errors } = await openApp({ results: baseResults, held: ['plugin:dialog|open'] });
    await page.getByTestId('choose-file').click();
    await page.getByTestId('choose-file').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'plugin:dialog|open'));
    assert.equal((await calls(page, 'plugin:dialog|open')).length, 1);
    await page.evaluate(() => window.__mailroom.release('plugin:dialog|open'));
    await page.getByTestId('import-report').waitFor();
    assert.equal((await calls(page, 'import_recipients')).length, 1);
    assert.deepEqual(errors, []);
  });
});

describe('The window, finished: Message screen', () => {
  const draft = {
    subject: 'Spring news',
    text: null,
    html: '<p>Old body</p>',
    attachments: [],
    attachment_column: null,
    attachment_name: null,
    attachment_folder: null,
    unsubscribe: { enabled: true, mailto: null, url: null },
  };
  const blackHole = { ...sandboxAccount, id: 2, name: 'Black hole', preset: null, host: '192.0.2.1' };
  const results = {
    ...baseResults,
    list_accounts: [blackHole, sandboxAccount],
    list_templates: [],
    get_message: draft,
    save_message: { fields: ['name', 'email', 'city'], missing_attachment_count: 0, missing_attachments: [], message_bytes: 900 },
  };
  const chips = (page) => page.getByTestId('fields').locator('button').allTextContents();

  test('the merge-field chips show the imported columns from the start, and after a failed save', async () => {
    const { page, errors } = await openApp({
      results,
      failures: { save_message: { kind: 'template', message: 'html, line 1: there is no merge field "nme"' } },
    });
    await page.locator('[data-screen=message]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=fields] button').length === 3);
    assert.deepEqual(await chips(page), ['name', 'email', 'city']);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('error').waitFor();
    assert.deepEqual(await chips(page), ['name', 'email', 'city']);
    assert.deepEqual(errors.filter((e) => !/merge field/.test(e.message)), []);
  });

  test('the rich-text body keeps the lines typed, so an error names the line it is on', async () => {
    const { page, errors } = await openApp({ results: { ...results, get_message: { ...draft, html: null } } });
    await page.locator('[data-screen=message]').click();
    const editor = page.getByTestId('rich-editor');
    await editor.waitFor();
    await editor.click();
    await page.keyboard.type('Hello there');
    await page.keyboard.press('Enter');
    await page.keyboard.type('Dear {{ nme }}');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('third line');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'save_message'));
    const [saved] = await calls(page, 'save_message');
    const lines = saved.args.draft.html.split('\n');
    assert.equal(lines.findIndex((l) => l.includes('nme')) + 1, 2, `line 2 of ${JSON.stringify(saved.args.draft.html)}`);
    assert.equal(lines.findIndex((l) => l.includes('third line')) + 1, 3);
    // Read back and saved again, the text is the same (no line added each time).
    await page.getByTestId('mode-source').click();
    await page.getByTestId('mode-rich').click();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'save_message').length === 2);
    const again = (await calls(page, 'save_message'))[1];
    assert.equal(again.args.draft.html, saved.args.draft.html);
    assert.deepEqual(errors, []);
  });

  test('previewing a skipped row says it is skipped and why, in the window language', async () => {
    const skipped = { message: null, source: null, skipped: { row: 4, email: 'bob-at-example.com', reason: { kind: 'invalid_address', problem: 'missing_at' } } };
    for (const [locale, wanted] of [
      ['en-US', /Row 4 \(bob-at-example\.com\) is skipped and gets no message: .*no @/],
      ['zh-CN', /第 4 行（bob-at-example\.com）已被跳过/],
    ]) {
      const { page, errors } = await openApp({ results: { ...results, preview_message: skipped } }, locale);
      await page.locator('[data-screen=message]').click();
      await page.waitForFunction(() => document.querySelector('[data-testid=rich-editor]')?.textContent === 'Old body');
      await page.locator('input[name=preview-row]').fill('4');
      await page.getByTestId('preview').click();
      await page.getByTestId('preview-skipped').waitFor();
      assert.match(await page.getByTestId('preview-skipped').textContent(), wanted);
      assert.equal(await page.getByTestId('error').count(), 0, 'not an error');
      assert.deepEqual(errors, []);
    }
  });

  test('Send test offers the last account used, shows progress, can be cancelled, and says the outcome beside the button', async () => {
    const { page, errors } = await openApp({
      results: { ...results, send_test_message: null, cancel_test: null },
      held: ['send_test_message'],
    });
    await page.locator('[data-screen=message]').click();
    await page.waitForFunction(() => document.querySelector('select[name=test-account]')?.value === 'Sandbox');
    await page.locator('input[name=test-to]').fill('me@example.org');
    await page.getByTestId('send-test').click();
    await page.getByTestId('test-sending').waitFor();
    assert.match(await page.getByTestId('test-sending').textContent(), /Sending the test through Sandbox/);
    assert.ok(await page.getByTestId('send-test').isDisabled(), 'one test at a time');
    await page.getByTestId('cancel-test').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'cancel_test'));
    const [sent] = await calls(page, 'send_test_message');
    const [cancel] = await calls(page, 'cancel_test');
    assert.equal(cancel.args.testId, sent.args.testId);
    assert.equal(sent.args.account, 'Sandbox');
    await page.evaluate(() => window.__mailroom.release('send_test_message'));
    await page.getByTestId('test-cancelled').waitFor();
    assert.equal(await page.getByTestId('error').count(), 0);
    assert.deepEqual(errors, []);
  });

  test('a failed test send is told next to its button, in view', async () => {
    const { page, errors } = await openApp({
      results,
      failures: { send_test_message: { kind: 'test_send_failed', message: 'connect: timed out after 15 s' } },
    });
    await page.setViewportSize({ width: 820, height: 560 });
    await page.locator('[data-screen=message]').click();
    await page.waitForFunction(() => document.querySelector('select[name=test-account]')?.value === 'Sandbox');
    await page.locator('input[name=test-to]').fill('me@example.org');
    await page.getByTestId('send-test').click();
    const banner = page.getByTestId('test-result').getByTestId('error');
    await banner.waitFor();
    assert.match(await banner.textContent(), /timed out after 15 s/);
    const inView = await banner.evaluate((el) => {
      const box = el.getBoundingClientRect();
      return box.top >= 0 && box.bottom <= window.innerHeight;
    });
    assert.ok(inView, 'the error is where the person is looking');
    assert.deepEqual(errors, []);
  });
});

describe('The window, finished: Campaign screen', () => {
  const blackHole = { ...sandboxAccount, id: 2, name: 'Black hole', preset: null, host: '192.0.2.1' };
  const plan = { campaign: 'spring', recipients: 1988, accounts: ['Sandbox'], from: 'news@example.org', per_second: 5, seconds: 398 };

  test('the first campaign offers the last account used, and the summary before Start comes from the engine', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, list_accounts: [blackHole, sandboxAccount], send_plan: plan } });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('send-plan').waitFor();
    assert.deepEqual(await page.getByTestId('account-name').allTextContents(), ['Sandbox']);
    assert.match(await page.getByTestId('send-plan').textContent(), /1,988 recipients through “Sandbox”, from news@example\.org, at 5\.0\/s: about 7 min/);
    const planned = await calls(page, 'send_plan');
    assert.deepEqual(planned.at(-1).args, { campaign: 7, accounts: ['Sandbox'] });
    await page.getByTestId('account-add-choice').selectOption('Black hole');
    await page.getByTestId('account-add').click();
    await page.getByTestId('account-up-1').click();
    await page.waitForFunction(() =>
      window.__mailroom.calls.filter((c) => c.command === 'send_plan').some((c) => c.args.accounts.join() === 'Black hole,Sandbox'),
    );
    assert.deepEqual(errors, []);
  });

  test('a daily quota spread over the day is said as its rate, not "0.0/s"', async () => {
    const daily = { ...plan, accounts: ['daily'], per_second: 2000 / 86_400, seconds: 233_280 };
    for (const [locale, rate] of [['en-US', /at 0\.023\/s: about 64 hr/], ['zh-CN', /每秒 0\.023 封/]]) {
      const { page, errors } = await openApp({ results: { ...baseResults, list_accounts: [sandboxAccount], send_plan: daily } }, locale);
      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('send-plan').waitFor();
      assert.match(await page.getByTestId('send-plan').textContent(), rate);
      assert.deepEqual(errors, []);
    }
  });

  test('with two accounts the summary and the plan name both in order, each with its own figures', async () => {
    const backup = { ...sandboxAccount, id: 3, name: 'Backup', preset: null, host: 'smtp.example.org' };
    const monday = Date.UTC(2026, 11, 7, 9, 0);
    // Sandbox 2,000 a day (500 already sent today), Backup 1,000: Monday
    // 1,500 + 1,000, Tuesday 2,000 + 900.
    const twoPlan = {
      remaining: 5400,
      accounts: [
        { name: 'Sandbox', rate_per_second: 2, per_day: 2000, sent_today: 500, suspended_until: null, count: 3500 },
        { name: 'Backup', rate_per_second: 1, per_day: 1000, sent_today: 0, suspended_until: null, count: 1900 },
      ],
      rate_per_second: 2,
      per_day: 3000,
      sent_today: 500,
      time_zone: 'UTC',
      starts_at: monday,
      days: [
        { date: '2026-12-07', weekday: 'mon', count: 2500 },
        { date: '2026-12-08', weekday: 'tue', count: 2900 },
      ],
      finishes_at: monday + 86_400_000 + 1_960_000,
      duration_ms: 86_400_000 + 1_960_000,
    };
    const summary = { ...plan, recipients: 5400, accounts: ['Sandbox', 'Backup'], seconds: 88_360 };
    for (const [locale, through, header, days, items] of [
      [
        'en-US',
        '5,400 recipients through “Sandbox”, then “Backup” when “Sandbox” is suspended, from news@example.org',
        '5,400 recipients on 3,000 a day:',
        'Mon 2,500 · Tue 2,900',
        [
          '“Sandbox”: 2,000 a day · at 2.0 a second · 500 sent in the last 24 hours · sends 3,500',
          '“Backup”: 1,000 a day · at 1.0 a second · sends 1,900',
        ],
      ],
      [
        'zh-CN',
        '5,400 位收件人，通过 “Sandbox”（“Sandbox” 暂停时改用 “Backup”），发件人 news@example.org',
        '5,400 位收件人，每天 3,000 封：',
        '周一 2,500 · 周二 2,900',
        [
          '“Sandbox”：每天 2,000 封 · 每秒 2.0 封 · 过去 24 小时内已发送 500 封 · 计划发送 3,500 封',
          '“Backup”：每天 1,000 封 · 每秒 1.0 封 · 计划发送 1,900 封',
        ],
      ],
    ]) {
      const { page, errors } = await openApp(
        {
          results: {
            ...baseResults,
            list_accounts: [sandboxAccount, backup],
            campaign_accounts: ['Sandbox', 'Backup'],
            send_plan: summary,
            plan_campaign: twoPlan,
          },
        },
        locale,
      );
      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('send-plan').waitFor();
      await page.getByTestId('plan').waitFor();
      assert.ok((await page.getByTestId('send-plan').textContent()).includes(through), locale);
      assert.ok((await page.getByTestId('plan').textContent()).includes(header), locale);
      assert.equal(await page.getByTestId('plan-days').textContent(), days);
      assert.deepEqual(await page.getByTestId('plan-account').allTextContents(), items);
      assert.equal((await page.getByTestId('plan-pace').textContent()).trim(), 'UTC', 'each account says its own pace');
      // Both asked for with every account, in the screen's order.
      assert.deepEqual((await calls(page, 'send_plan')).at(-1).args.accounts, ['Sandbox', 'Backup']);
      assert.deepEqual((await calls(page, 'plan_campaign')).at(-1).args.accounts, ['Sandbox', 'Backup']);
      assert.deepEqual(errors, []);
    }
    // A person changes the order: the summary and the plan are asked again in the new order.
    const { page } = await openApp({
      results: { ...baseResults, list_accounts: [sandboxAccount, backup], campaign_accounts: ['Sandbox', 'Backup'], send_plan: summary },
    });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('send-plan').waitFor();
    await page.getByTestId('account-up-1').click();
    await page.waitForFunction(() =>
      ['send_plan', 'plan_campaign'].every((command) =>
        window.__mailroom.calls.some((c) => c.command === command && c.args.accounts.join() === 'Backup,Sandbox'),
      ),
    );
    // One account suspended: the plan says until when.
    const suspended = {
      ...twoPlan,
      accounts: [{ ...twoPlan.accounts[0], suspended_until: Date.UTC(2026, 11, 7, 12, 0), count: 0 }, { ...twoPlan.accounts[1], count: 5400 }],
    };
    const { page: later } = await openApp({
      results: { ...baseResults, list_accounts: [sandboxAccount, backup], campaign_accounts: ['Sandbox', 'Backup'], plan_campaign: suspended },
    });
    await later.locator('[data-screen=campaign]').click();
    await later.getByTestId('plan').waitFor();
    assert.match((await later.getByTestId('plan-account').allTextContents())[0], /^“Sandbox”: suspended until .*2026.* · sends 0$/);
  });

  test('the account order is kept with the keyboard: add, move up and down, remove; Start sends the list in order', async () => {
    const backup = { ...sandboxAccount, id: 3, name: 'Backup', preset: null, host: 'smtp.example.org' };
    const suspended = {
      ...blackHole,
      suspension: { until: Date.UTC(2026, 11, 4, 9), since: Date.UTC(2026, 11, 3, 9), reason: { kind: 'quota', window: 'day', limit: 500 } },
    };
    const { page, errors } = await openApp({
      results: {
        ...baseResults,
        list_accounts: [suspended, sandboxAccount, backup],
        campaign_accounts: ['Sandbox'],
        send_plan: plan,
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 2 } },
        'plugin:notification|notify': null,
      },
    });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('send-plan').waitFor();
    const names = () => page.getByTestId('account-name').allTextContents();
    assert.deepEqual(await names(), ['Sandbox'], 'the campaign’s own accounts');
    // Only one account: it cannot be removed or moved.
    assert.equal(await page.getByTestId('account-remove-0').isDisabled(), true);
    // Add both others, by keyboard: choose in the select, press Enter on Add.
    await page.getByTestId('account-add-choice').selectOption('Backup');
    await page.getByTestId('account-add').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('account-add-choice').selectOption('Black hole');
    await page.getByTestId('account-add').focus();
    await page.keyboard.press('Enter');
    assert.deepEqual(await names(), ['Sandbox', 'Backup', 'Black hole']);
    assert.equal(await page.getByTestId('account-add').count(), 0, 'nothing left to add');
    // A suspended account says until when.
    assert.match(await page.getByTestId('account-suspended').textContent(), /suspended until/);
    // Black hole up twice: the focus stays on its Up button while it moves.
    await page.getByTestId('account-up-2').focus();
    await page.keyboard.press('Enter');
    assert.deepEqual(await names(), ['Sandbox', 'Black hole', 'Backup']);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'account-up-1');
    await page.keyboard.press('Enter');
    assert.deepEqual(await names(), ['Black hole', 'Sandbox', 'Backup']);
    // Its Up button is now disabled: the focus moves to another button of it.
    assert.equal(await page.getByTestId('account-up-0').isDisabled(), true);
    await page.getByTestId('account-down-0').focus();
    await page.keyboard.press('Enter');
    assert.deepEqual(await names(), ['Sandbox', 'Black hole', 'Backup']);
    await page.getByTestId('account-remove-1').focus();
    await page.keyboard.press('Enter');
    assert.deepEqual(await names(), ['Sandbox', 'Backup']);
    assert.match(await page.getByTestId('account-order').textContent(), /the next one sends/);
    await page.getByTestId('start').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'start_campaign'));
    const [started] = await calls(page, 'start_campaign');
    assert.deepEqual(started.args.accounts, ['Sandbox', 'Backup']);
    assert.deepEqual(errors, []);
  });

  test('nothing is counted as done before anything is sent: skipped rows are shown apart', async () => {
    const { page, errors } = await openApp({ results: { ...baseResults, list_accounts: [sandboxAccount] } });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('rate').waitFor();
    const figures = await page.getByTestId('rate').textContent();
    assert.doesNotMatch(figures, /\d+ \/ \d+/, `no "3 / 5" before a send: ${figures}`);
    assert.match(figures, /3 skipped at import/);
    assert.equal(await page.locator('progress').count(), 0);
    assert.deepEqual(errors, []);
  });

  test('a paused campaign shows no live rate, offers Stop with a confirmation, and stops', async () => {
    const paused = { ...campaign, status: 'paused', account: 'Sandbox', counts: { ...counts, pending: 1, sent: 12, skipped: 3 } };
    const { page, errors } = await openApp({ results: { ...baseResults, list_campaigns: [paused], list_accounts: [sandboxAccount], stop_campaign: null } });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('stop').waitFor();
    const figures = await page.getByTestId('rate').textContent();
    assert.match(figures, /12 \/ 13 done/);
    assert.doesNotMatch(figures, /sent\/s/);
    assert.equal(await page.getByTestId('live-rate').count(), 0);
    await page.getByTestId('stop').click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-cancel').click();
    assert.equal((await calls(page, 'stop_campaign')).length, 0);
    await page.getByTestId('stop').click();
    await page.getByTestId('confirm-ok').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'stop_campaign'));
    assert.deepEqual((await calls(page, 'stop_campaign'))[0].args, { campaign: 7 });
    await page.waitForFunction(() => document.querySelector('[data-testid=campaign-state]')?.textContent?.trim() === 'Stopped');
    assert.equal(await page.getByTestId('start').count(), 0, 'a stopped campaign is not offered to resume');
    assert.deepEqual(errors, []);
  });

  test('after a crash the badge and the banner agree: interrupted', async () => {
    const interrupted = { ...campaign, status: 'paused', interrupted: true, pause_reason: { kind: 'interrupted' }, account: 'Sandbox' };
    const { page, errors } = await openApp({ results: { ...baseResults, list_campaigns: [interrupted], list_accounts: [sandboxAccount] } }, 'en-US', 'campaign');
    await page.getByTestId('interrupted').waitFor();
    assert.equal(await page.getByTestId('campaign-state').textContent(), 'Interrupted');
    assert.deepEqual(errors, []);
  });

  test('the chart never reads above the limit in force, and says why when it caught a reading above it', async () => {
    const progress = (rate, limit) => ({
      type: 'progress',
      counts: { ...counts, pending: 1, sent: 4, skipped: 0 },
      percent_done: 80,
      sent_per_second: rate,
      rate: { configured: 20, effective: limit, reason: null },
      eta_seconds: 1,
      elapsed_ms: 1000,
    });
    const { page, errors } = await openApp({
      results: { ...baseResults, list_accounts: [sandboxAccount], start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 5, skipped: 0 } } },
      messages: { start_campaign: [{ events: [progress(19.8, 20), progress(20.4, 20), progress(19.9, 20)], omitted: 0 }] },
      held: ['start_campaign'],
    });
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('start').click();
    await page.getByTestId('chart-caption').waitFor();
    const caption = await page.getByTestId('chart-caption').textContent();
    assert.match(caption, /peak 20\.0\/s/);
    assert.doesNotMatch(caption, /20\.4/);
    await page.getByTestId('chart-clamped').waitFor();
    assert.match(await page.getByTestId('live-rate').textContent(), /limit 20\.0\/s/);
    // Completed: the figures stop being live.
    await page.evaluate(() => window.__mailroom.release('start_campaign'));
    await page.getByTestId('live-rate').waitFor({ state: 'detached' });
    assert.deepEqual(errors, []);
  });
});

describe('The window, finished: SMTP timeouts in seconds', () => {
  test('timeouts are shown and typed in seconds and saved in milliseconds; a bad one is refused in the window language', async () => {
    for (const [locale, refusal] of [
      ['en-US', /Timeouts are in seconds/],
      ['zh-CN', /超时以秒为单位/],
    ]) {
      const { page, errors } = await openApp({ results: { ...smtpResults, save_account: sandboxAccount } }, locale);
      await page.locator('[data-screen=smtp]').click();
      await page.getByTestId('field-connect-timeout').waitFor({ state: 'attached' });
      assert.equal(await page.getByTestId('field-connect-timeout').inputValue(), '15');
      assert.equal(await page.getByTestId('field-data-timeout').inputValue(), '120');
      await page.locator('summary').first().click();
      await page.getByTestId('field-connect-timeout').fill('0');
      await page.getByTestId('save-account').click();
      await page.getByTestId('timeout-invalid').waitFor();
      assert.match(await page.getByTestId('timeout-invalid').textContent(), refusal);
      assert.equal((await calls(page, 'save_account')).length, 0);
      await page.getByTestId('field-connect-timeout').fill('2.5');
      await page.getByTestId('save-account').click();
      await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'save_account'));
      const [saved] = await calls(page, 'save_account');
      assert.equal(saved.args.settings.connect_timeout_ms, 2500);
      assert.equal(saved.args.settings.data_timeout_ms, 120000);
      assert.deepEqual(errors, []);
    }
  });
});

describe('The window, finished: 820×560 in both languages', () => {
  for (const locale of ['en-US', 'zh-CN']) {
    test(`badges stay on one line, tiles and forms fit, and Latin punctuation is Latin (${locale})`, async () => {
      context = await browser.newContext({ locale, viewport: { width: 820, height: 560 } });
      const page = await context.newPage();
      await page.addInitScript(() => {
        window.__MAILROOM_SCENARIO__ = { use: 'outcomes' };
        sessionStorage.removeItem('mailroom.test.settings');
      });
      await page.goto(site.url);
      await page.getByTestId('recipients-screen').waitFor();
      const sideways = () => page.evaluate(() => {
        const main = document.querySelector('main');
        return main.scrollWidth - main.clientWidth;
      });
      await page.getByTestId('choose-file').click();
      await page.getByTestId('import-report').waitFor();
      assert.equal(await sideways(), 0, 'the Recipients tiles do not overflow sideways');

      const badgesOnOneLine = () =>
        page.evaluate(() =>
          [...document.querySelectorAll('main .badge')].map((el) => ({ text: el.textContent, height: el.getBoundingClientRect().height })),
        );
      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('campaign-state').waitFor();
      await page.locator('[data-screen=results]').click();
      await page.getByTestId('resend-failed').waitFor();
      const badges = await badgesOnOneLine();
      assert.ok(badges.length > 0 && badges.every((b) => b.height < 24), `status badges are one line high: ${JSON.stringify(badges)}`);

      await page.locator('[data-screen=smtp]').click();
      await page.getByTestId('save-account').waitFor();
      assert.equal(await sideways(), 0, 'the SMTP form is not cut off at the side');
      await page.getByTestId('save-account').scrollIntoViewIfNeeded();
      const save = await page.getByTestId('save-account').boundingBox();
      assert.ok(save && save.y + save.height <= 560, 'the SMTP form scrolls to its Save button');

      // Latin punctuation in a Latin font: the stack names Latin fonts
      // first and CJK ones after, with system-ui (which a Chinese window's
      // WebKit resolves to a CJK font, full-width ’) only after both.
      const stack = await page.evaluate(() => getComputedStyle(document.body).fontFamily.split(',').map((f) => f.trim().replace(/['"]/g, '')));
      const firstCjk = stack.findIndex((f) => /CJK|PingFang|YaHei|Han Sans|Hei/.test(f));
      assert.ok(firstCjk > 0 && stack.slice(0, firstCjk).includes('DejaVu Sans'), `Latin fonts first: ${stack.join(', ')}`);
      assert.ok(stack.indexOf('system-ui') > firstCjk, `system-ui after the CJK fonts: ${stack.join(', ')}`);
      // And, here, a curly apostrophe is as narrow as in Latin text.
      const widths = await page.evaluate(() => {
        const probe = document.createElement('span');
        probe.style.fontSize = '40px';
        document.querySelector('main').append(probe);
        probe.textContent = '’';
        const curly = probe.getBoundingClientRect().width;
        probe.textContent = '中';
        const han = probe.getBoundingClientRect().width;
        probe.remove();
        return { curly, han };
      });
      assert.ok(widths.curly < widths.han * 0.5, `’ is ${widths.curly}px wide, 中 ${widths.han}px`);
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
    list_suppressions: suppressionPage,
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
          [{ use: 'results', results: everything }, theme === 'light' ? 'light' : 'system'],
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
        await page.getByRole('button', { name: /Save as template|存为模板|另存为模板/ }).click();
        await page.getByTestId('text-dialog').waitFor();
        await check('message, the template name dialog');
        await page.keyboard.press('Escape');
        await page.getByTestId('text-dialog').waitFor({ state: 'detached' });
        await page.locator('[data-screen=campaign]').click();
        await page.getByTestId('campaign-state').waitFor();
        await check('campaign');
        await page.locator('[data-screen=results]').click();
        await page.getByTestId('resend-failed').waitFor();
        await check('results');
        await page.getByTestId('open-campaign').click();
        await page.getByTestId('recipient-rows').waitFor();
        await check('results, a campaign\'s recipients');
        await page.getByTestId('open-history').last().click();
        await page.getByTestId('history-attempts').waitFor();
        await check('results, a recipient\'s history');
        await page.keyboard.press('Escape');
        await page.getByTestId('tab-runs').click();
        await page.getByTestId('runs').waitFor();
        await check('results, runs');
        await page.getByTestId('open-resend').click();
        await page.getByTestId('resend-summary').waitFor();
        await check('results, the Resend dialog');
        await page.keyboard.press('Escape');
        await page.getByTestId('results-back').click();
        await page.locator('[data-screen=suppression]').click();
        await page.getByTestId('suppression-table').waitFor();
        await check('suppression');
        await page.getByTestId('suppression-remove').first().click();
        await page.getByTestId('confirm-dialog').waitFor();
        await check('suppression, removing an address');
        await page.keyboard.press('Escape');
        await page.locator('[data-screen=sandbox]').click();
        await page.getByTestId('captured-row').first().click();
        await page.getByTestId('captured-message').waitFor();
        await check('sandbox, a captured message');
        await page.getByTestId('clear-captured').click();
        await page.getByTestId('confirm-dialog').waitFor();
        await check('sandbox, the delete-all question');
        await page.keyboard.press('Escape');
        await page.getByTestId('confirm-dialog').waitFor({ state: 'detached' });
        await page.locator('[data-screen=settings]').click();
        await page.getByTestId('database-path').waitFor();
        await check('settings');
        await page.evaluate(() => window.__mailroom.event('menu', 'about'));
        await page.getByTestId('licences').waitFor();
        await check('about');
        await page.keyboard.press('Escape');
        await page.evaluate(() => window.__mailroom.event('close-requested', { sending: ['spring'], next: null, away: 'tray' }));
        await page.getByTestId('close-dialog').waitFor();
        await check('closing while sending');
        assert.deepEqual(problems, []);
      });
    }
  }
});

describe('Schedules and plans', () => {
  // Monday 2026-12-07 09:00 UTC, and the days after it.
  const monday = Date.UTC(2026, 11, 7, 9, 0);
  const plan = {
    remaining: 5400,
    accounts: [{ name: 'work', rate_per_second: 2, per_day: 2000, sent_today: 0, suspended_until: null, count: 5400 }],
    rate_per_second: 2,
    per_day: 2000,
    sent_today: 0,
    time_zone: 'UTC',
    starts_at: monday,
    days: [
      { date: '2026-12-07', weekday: 'mon', count: 2000 },
      { date: '2026-12-08', weekday: 'tue', count: 2000 },
      { date: '2026-12-09', weekday: 'wed', count: 1400 },
    ],
    finishes_at: monday + 2 * 86_400_000 + 703_000,
    duration_ms: 2 * 86_400_000 + 703_000,
  };
  const missed = {
    campaign: 7,
    name: 'spring',
    schedule: { start_at: Date.UTC(2026, 11, 6, 8, 0), time_zone: 'Europe/Paris', windows: [], account: 'work' },
    accounts: ['work'],
    missed: true,
  };

  for (const [locale, days, finish, offer] of [
    ['en-US', 'Mon 2,000 · Tue 2,000 · Wed 1,400', 'finishing about Wed 09:11', '“spring” was scheduled for'],
    ['zh-CN', '周一 2,000 · 周二 2,000 · 周三 1,400', '预计约 周三09:11 完成', '“spring”原定于'],
  ]) {
    test(`a missed start is offered, not run, and the plan shows before Start (${locale})`, async () => {
      const { page, errors } = await openApp(
        {
          results: {
            list_campaigns: [campaign],
            list_accounts: [],
            list_schedules: [missed],
            plan_campaign: plan,
            take_scheduled_start: 'work',
            start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 2 } },
            'plugin:notification|notify': null,
          },
        },
        locale,
      );
      const dialog = page.getByTestId('missed-schedule');
      await dialog.waitFor();
      assert.match(await dialog.textContent(), new RegExp(offer));
      assert.deepEqual(await calls(page, 'start_campaign'), [], 'never run silently');
      // Leave it: the dialog closes and nothing starts.
      await page.getByTestId('missed-leave').click();
      await dialog.waitFor({ state: 'detached' });
      assert.deepEqual(await calls(page, 'start_campaign'), []);

      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('plan').waitFor();
      assert.equal(await page.getByTestId('plan-days').textContent(), days);
      assert.equal(await page.getByTestId('plan-finish').textContent(), finish);
      const [asked] = await calls(page, 'plan_campaign');
      assert.equal(asked.args.campaign, 7);
      assert.deepEqual(errors.filter((e) => !/did not mock/.test(e.message)), []);
    });
  }

  test('the pace under the plan: the rate, what went today and the time zone, with no stray separator', async () => {
    const unthrottled = { ...plan, rate_per_second: null, per_day: null, finishes_at: null, duration_ms: null };
    for (const [shown, pace] of [
      [plan, 'at 2.0 a second · UTC'],
      [{ ...plan, sent_today: 120 }, 'at 2.0 a second · 120 already sent by the account in the last 24 hours · UTC'],
      // An account without a rate once showed "· UTC".
      [unthrottled, 'UTC'],
    ]) {
      const { page } = await openApp({ results: { list_campaigns: [campaign], list_accounts: [], plan_campaign: shown } });
      await page.locator('[data-screen=campaign]').click();
      await page.getByTestId('plan').waitFor();
      assert.equal((await page.getByTestId('plan-pace').textContent()).trim(), pace);
    }
  });

  test('Send now takes the missed start and runs it on its account', async () => {
    const { page } = await openApp({
      results: {
        list_campaigns: [campaign],
        list_accounts: [],
        list_schedules: [missed],
        take_scheduled_start: 'work',
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 2 } },
        'plugin:notification|notify': null,
      },
    });
    await page.getByTestId('missed-send').click();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'start_campaign'));
    assert.deepEqual((await calls(page, 'take_scheduled_start')).map((c) => c.args), [{ campaign: 7 }]);
    const [started] = await calls(page, 'start_campaign');
    assert.deepEqual([started.args.campaign, started.args.accounts], [7, ['work']]);
  });

  test('a start that comes due while the app is open runs on its account, after the run in progress', async () => {
    const { page } = await openApp({
      results: {
        list_campaigns: [campaign, { ...campaign, id: 8, name: 'summer' }],
        list_accounts: [],
        start_campaign: { outcome: 'completed', reason: null, counts: { ...counts, pending: 0, sent: 2 } },
        'plugin:notification|notify': null,
      },
      held: ['start_campaign'],
    });
    await page.evaluate(() => window.__mailroom.event('schedule-due', { campaign: 7, account: 'work' }));
    await page.evaluate(() => window.__mailroom.event('schedule-due', { campaign: 8, account: null }));
    await page.getByTestId('campaign-screen').waitFor();
    await page.waitForFunction(() => window.__mailroom.calls.some((c) => c.command === 'start_campaign'));
    // The second waits while the first sends.
    assert.deepEqual((await calls(page, 'start_campaign')).map((c) => [c.args.campaign, c.args.accounts]), [[7, ['work']]]);
    await page.evaluate(() => window.__mailroom.release('start_campaign'));
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'start_campaign').length === 2);
    assert.deepEqual(
      (await calls(page, 'start_campaign')).map((c) => [c.args.campaign, c.args.accounts]),
      [[7, ['work']], [8, []]],
    );
  });

  test('Schedule… saves a start time, zone and a send window through the engine', async () => {
    const { page, errors } = await openApp(
      { results: { list_campaigns: [campaign], list_accounts: [{ id: 1, name: 'work' }], set_schedule: null } },
      'en-US',
    );
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('schedule-open').click();
    await page.getByTestId('schedule-form').waitFor();
    await page.getByTestId('schedule-date').fill('2026-12-07');
    await page.getByTestId('schedule-time').fill('09:30');
    await page.getByTestId('schedule-zone').selectOption('Europe/Paris');
    await page.getByTestId('schedule-add-window').click();
    await page.getByTestId('schedule-save').click();
    await page.getByTestId('schedule-form').waitFor({ state: 'detached' });
    const [saved] = await calls(page, 'set_schedule');
    assert.equal(saved.args.start, '2026-12-07 09:30');
    assert.deepEqual(saved.args.schedule.windows, [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start_minute: 540, end_minute: 1020 }]);
    assert.equal(saved.args.schedule.time_zone, 'Europe/Paris');
    assert.deepEqual(errors.filter((e) => !/did not mock/.test(e.message)), []);
  });

  test('Schedule… sends on the accounts in order, and the schedule then says them', async () => {
    const { page, errors } = await openApp(
      {
        results: {
          list_campaigns: [campaign],
          list_accounts: [{ id: 1, name: 'work' }, { id: 2, name: 'spare' }],
          campaign_accounts: ['work', 'spare'],
          set_schedule: null,
        },
      },
      'en-US',
    );
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('schedule-open').click();
    await page.getByTestId('schedule-form').waitFor();
    assert.equal(
      await page.getByTestId('schedule-form-accounts').textContent(),
      'A scheduled start sends through “work”, then “spare” when “work” is suspended, the order under “Send with”.',
    );
    await page.getByTestId('schedule-date').fill('2026-12-07');
    await page.getByTestId('schedule-time').fill('09:30');
    // What the engine keeps once saved: the start, and the campaign's accounts it sends on.
    const kept = { start_at: Date.UTC(2026, 11, 7, 9, 30), time_zone: 'UTC', windows: [], account: null };
    await page.evaluate((schedule) => {
      window.__mailroom.answer('get_schedule', schedule);
      window.__mailroom.answer('list_schedules', [{ campaign: 7, name: 'spring', schedule, accounts: ['work', 'spare'], missed: false }]);
    }, kept);
    await page.getByTestId('schedule-save').click();
    await page.getByTestId('schedule-form').waitFor({ state: 'detached' });
    const [saved] = await calls(page, 'set_schedule');
    assert.deepEqual(saved.args.accounts, ['work', 'spare']);
    assert.equal(saved.args.schedule.account, null);
    await page.getByTestId('schedule-accounts').waitFor();
    assert.equal(
      await page.getByTestId('schedule-accounts').textContent(),
      'It sends through “work”, then “spare” when “work” is suspended.',
    );
    assert.deepEqual(errors.filter((e) => !/did not mock/.test(e.message)), []);
  });
});

describe('Results: recipients, histories, runs and Resend', () => {
  test('a campaign opens into its recipients: uncertain first, state chips, reason filter, search, paging', async () => {
    const { page, errors } = await openApp({ use: 'results' }, 'en-US');
    await page.locator('[data-screen=results]').click();
    await page.getByTestId('open-campaign').click();
    await page.getByTestId('campaign-results').waitFor();
    // Uncertain recipients first, with what they mean.
    const notice = page.getByTestId('uncertain-notice');
    // One recipient, said as one: "1 uncertain recipient", "1 recipient is uncertain … Resend it".
    assert.match(await notice.textContent(), /^\s*1 uncertain recipient\s*1 recipient is uncertain: /);
    assert.doesNotMatch(await notice.textContent(), /recipients|them/);
    assert.match(await notice.textContent(), /may or may not have it\. Resend it /);
    assert.deepEqual(await notice.getByRole('button').allTextContents(), ['Show it', 'Resend it', 'Count it as sent']);
    // Chips with counts; choosing one asks the engine for that state.
    assert.match(await page.getByTestId('filter-failed').textContent(), /Failed\s*5/);
    assert.match(await page.getByTestId('filter-suppressed').textContent(), /Suppressed\s*1/);
    await page.getByTestId('filter-failed').click();
    assert.equal(await page.getByTestId('filter-failed').getAttribute('aria-pressed'), 'true');
    await page.waitForFunction(() =>
      window.__mailroom.calls.some((c) => c.command === 'recipient_page' && c.args.query.state === 'failed'),
    );
    const facets = await calls(page, 'recipient_facets');
    assert.equal(facets.at(-1).args.filter, 'failed', 'the reason counts follow the state');
    // Reasons come from the typed catalog, with their counts.
    const options = await page.getByTestId('reason-filter').locator('option').allTextContents();
    assert.deepEqual(options, ['Any reason', 'No such user (5.1.x) (3)', 'Refused by the server (1)', 'Gave up after retries (1)']);
    await page.getByTestId('reason-filter').selectOption('no_such_user');
    await page.waitForFunction(() =>
      window.__mailroom.calls.some((c) => c.command === 'recipient_page' && c.args.query.reason === 'no_such_user'),
    );
    // Rows say their reason through the outcome catalog.
    const first = page.getByTestId('recipient-rows').locator('tbody tr').first();
    assert.match(await first.textContent(), /user2@example\.org.*Failed.*550 5\.1\.1.*User unknown/s);
    // Search waits for the typing to pause, then asks once.
    await page.getByTestId('recipient-search').fill('City 4');
    await page.waitForFunction(() =>
      window.__mailroom.calls.some((c) => c.command === 'recipient_page' && c.args.query.search === 'City 4'),
    );
    // Next page by cursor.
    assert.match(await page.getByTestId('page-range').textContent(), /Rows 1–6/);
    await page.getByTestId('page-next').click();
    await page.waitForFunction(() =>
      window.__mailroom.calls.some((c) => c.command === 'recipient_page' && c.args.query.after === 7),
    );
    assert.match(await page.getByTestId('page-range').textContent(), /Rows 7–12/);
    assert.deepEqual(errors, []);
  });

  test('a row opens its history: every attempt with time, account, step, code, words and duration', async () => {
    const { page, errors } = await openApp({ use: 'results' }, 'en-US');
    await page.locator('[data-screen=results]').click();
    await page.getByTestId('open-campaign').click();
    await page.getByTestId('open-history').last().focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByTestId('history');
    await dialog.waitFor();
    const [asked] = await calls(page, 'recipient_history');
    assert.deepEqual(asked.args, { campaign: 9, row: 7 });
    const rows = await page.getByTestId('history-attempts').locator('tbody tr').allTextContents();
    assert.equal(rows.length, 3);
    assert.match(rows[0], /Sandbox.*Recipient.*Temporary refusal.*454 4\.7\.0.*Throttling failure.*42 ms/s);
    assert.match(rows[1], /421 4\.3\.2/);
    assert.match(rows[2], /Message.*Sent.*250 2\.0\.0.*queued as 4Bx9/s);
    // Esc closes it, and focus returns to the row.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'open-history');
    // The Runs tab: each run with its kind, account, end and figures.
    await page.getByTestId('tab-runs').click();
    const runs = await page.getByTestId('runs').locator('tbody tr').allTextContents();
    assert.match(runs[0], /First send.*Sandbox.*Completed.*6 sent · 5 failed · 1 uncertain/s);
    assert.match(runs[1], /Resend failed.*Paused.*Sent again 1; left out 5/s);
    assert.deepEqual(errors, []);
  });

  test('uncertain recipients are resent or counted as sent, one or all', async () => {
    const inFlight = {
      recipient: {
        row: 6, email: 'user6@example.org', status: 'uncertain', reason: { kind: 'in_flight_at_stop' }, reply: null, attempts: 1,
        bounce: null, unanswered: 1, message_version: 1, fields: { email: 'user6@example.org', city: 'City 6' },
      },
      updated_at: Date.UTC(2026, 10, 23, 9, 31),
      attempts: [{ started_at: Date.UTC(2026, 10, 23, 9, 31), duration_ms: null, result: 'ambiguous', stage: 'data', code: null, enhanced_code: null, text: 'in flight when Mailroom stopped: no answer was recorded', account: 'Sandbox', run: 1 }],
      bounces: [],
    };
    const { page, errors } = await openApp({ use: 'results', results: { recipient_history: inFlight } }, 'en-US');
    await page.locator('[data-screen=results]').click();
    await page.getByTestId('open-campaign').click();
    await page.getByTestId('open-history').nth(4).click();
    const attempt = await page.getByTestId('history-attempts').locator('tbody tr').textContent();
    assert.match(attempt, /Message.*No answer.*in flight when Mailroom stopped.*—/s, 'no code, duration unknown');
    await page.getByTestId('history-resend').click();
    await page.getByTestId('history').waitFor({ state: 'detached' });
    await page.getByTestId('mark-uncertain-sent').click();
    await page.waitForFunction(() => window.__mailroom.calls.filter((c) => c.command === 'settle_uncertain_rows').length === 2);
    const settled = (await calls(page, 'settle_uncertain_rows')).map((c) => c.args);
    assert.deepEqual(settled, [
      { campaign: 9, rows: [6], decision: 'resend' },
      { campaign: 9, rows: null, decision: 'mark_sent' },
    ]);
    assert.deepEqual(errors, []);
  });

  test('Resend says what it leaves out, sends the chosen reasons on the chosen account, and starts a run', async () => {
    const { page, errors } = await openApp({ use: 'results', held: ['start_campaign'] }, 'en-US');
    await page.locator('[data-screen=results]').click();
    await page.getByTestId('resend-failed').click();
    const dialog = page.getByTestId('resend-dialog');
    await dialog.waitFor();
    assert.match(
      await page.getByTestId('resend-left-out').textContent(),
      /Left out: 3 No such user \(5\.1\.x\), 1 on the suppression list, 1 uncertain\./,
    );
    // No such user is left out unless chosen; the rest are in.
    assert.equal(await page.getByTestId('resend-reason-no_such_user').isChecked(), false);
    assert.equal(await page.getByTestId('resend-reason-smtp').isChecked(), true);
    await page.getByTestId('resend-reason-smtp').uncheck();
    await page.getByTestId('resend-uncertain').check();
    await page.waitForFunction(() =>
      window.__mailroom.calls.some((c) => c.command === 'resend_plan' && c.args.choice.include_uncertain),
    );
    const last = (await calls(page, 'resend_plan')).at(-1).args.choice;
    assert.deepEqual(last, { reasons: ['gave_up'], include_suppressed: false, include_uncertain: true, include_bounced: false });
    await page.getByTestId('resend-confirm').click();
    await page.getByTestId('campaign-screen').waitFor();
    const [chosen] = await calls(page, 'resend_chosen');
    assert.deepEqual(chosen.args.choice, last);
    const [started] = await calls(page, 'start_campaign');
    assert.deepEqual(started.args.accounts, ['Sandbox'], 'the campaign’s accounts, as the dialog offered them');
    assert.deepEqual(errors, []);
  });

  test('the bounced checkbox lives in the Resend dialog, so bounced recipients can be resent alone', async () => {
    const campaignBounced = { ...campaign, status: 'completed', counts: { ...counts, pending: 0, sent: 1, bounced: 2 }, account: null, pause_reason: null, sent_by: null, interrupted: false };
    const plan = { choice: { reasons: null, include_suppressed: false, include_uncertain: false, include_bounced: false }, failed: [], suppressed: 0, uncertain: 0, bounced: 2, to_send: 0, left_out: [{ why: { why: 'bounced' }, count: 2 }] };
    const { page, errors } = await openApp({ use: 'results', results: { list_campaigns: [campaignBounced], resend_plan: plan } }, 'en-US');
    await page.locator('[data-screen=results]').click();
    // Nothing failed, yet Resend is offered: the bounced can be chosen in it.
    await page.getByTestId('resend-failed').click();
    await page.getByTestId('resend-dialog').waitFor();
    assert.equal(await page.getByTestId('resend-confirm').isDisabled(), true, 'nothing chosen yet');
    await page.getByTestId('include-bounced').check();
    await page.waitForFunction(() =>
      window.__mailroom.calls.some((c) => c.command === 'resend_plan' && c.args.choice.include_bounced),
    );
    assert.equal(await page.getByTestId('campaigns').getByTestId('include-bounced').count(), 0, 'no checkbox in the row');
    assert.deepEqual(errors, []);
  });

  test('in 简体中文 the views say 发送任务 and every label is translated', async () => {
    const { page, errors } = await openApp({ use: 'results' }, 'zh-CN');
    await page.locator('[data-screen=results]').click();
    await page.getByTestId('open-campaign').click();
    await page.getByTestId('campaign-results').waitFor();
    assert.match(await page.getByTestId('results-back').textContent(), /所有发送任务/);
    assert.match(await page.getByTestId('filter-failed').textContent(), /失败\s*5/);
    const options = await page.getByTestId('reason-filter').locator('option').allTextContents();
    assert.ok(options.includes('用户不存在（5.1.x）（3）'), options.join(' | '));
    assert.deepEqual(errors, []);
  });
});
