// The window speaks one language completely: every screen, walked through a
// campaign with pauses, quota waits, 4xx and 5xx failures, skipped rows and
// a failed Test connection (tests/harness/outcomes.ts, typed against the
// engine's generated bindings), shows no Latin-letter words in 简体中文
// outside quoted server or system text and an allow-list of product names
// and codes, and no Chinese in English outside the data itself. Then the
// language is switched, and what the run reported is said again in the new
// one (events used to keep the language they arrived in).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const DIST = join(import.meta.dirname, '..', 'dist-test');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Product names, protocol words and codes that are the same in every language. */
const ALLOWED = new Set(
  `Mailroom SMTP SMTPUTF8 TLS TLSv STARTTLS EHLO HELO AUTH PLAIN LOGIN PIPELINING SIZE Message ID UTF CSV TSV TXT
   XLSX XLS XLSB ODS HTML MIME IDNA ASCII DNS VPN API MIT Apache License Gmail Google Workspace Outlook Office Microsoft
   Hotmail Amazon SES AWS QQ NetEase Tencent Alibaba Zoho Mailgun SendGrid Brevo Excel Mail Message-ID List-Unsubscribe
   English mailroom UTF- pdf kB MB GB csv LE BE gb GBK Big Shift JIS EUC-KR windows- ISO- KOI macintosh`.split(/\s+/),
);
/**
 * Chinese an English window shows on purpose: the language's own name in the
 * language menu, and the names Chinese providers give their mail and its
 * passwords (QQ邮箱, 授权码), which a person must recognise in those apps.
 */
const ALLOWED_HAN = new Set(['简体中文', '邮箱', '授权码', '客户端专用密码', '网易', '腾讯企业邮', '阿里企业邮']);
/** The scenario's own data: names, addresses, files and hosts a person typed or imported. */
const DATA =
  /[\w.+-]+@[\w.-]+|bob-at-example\.com|\/home\/[\w./-]+|\{\{[^}]*\}\}|\{%[^%]*%\}|https?:\/\/\S+|[\w-]+\.pdf|\b(?:spring|Sandbox|Spring news|Hello Ann|News|Person \d+|Ann|Oslo|name|email|city|example|localhost)\b|\d+(?:\.\d+)*/g;

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

/** What is on screen now, with quoted words (a server's or the system's) taken out. */
async function visibleText(page) {
  const text = await page.evaluate(() => {
    const parts = [document.body.innerText];
    for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
      for (const name of ['aria-label', 'title', 'placeholder']) {
        const value = el.getAttribute(name);
        if (value) parts.push(value);
      }
    }
    for (const option of document.querySelectorAll('option')) parts.push(option.textContent ?? '');
    return parts.join('\n');
  });
  return text
    .replace(/“[^”]*”/g, ' ')
    .replace(/\{\{[^}]*\}\}/g, ' ')
    .replace(DATA, ' ');
}

/** Latin words not on the allow-list. */
function latinWords(text) {
  return [...new Set((text.match(/[A-Za-z][A-Za-z'-]+/g) ?? []).filter((w) => !ALLOWED.has(w)))];
}

/** Chinese characters. */
function hanRuns(text) {
  return [...new Set(text.match(/\p{Script=Han}+/gu) ?? [])].filter((run) => !ALLOWED_HAN.has(run));
}

let browser;
let site;

before(async () => {
  site = await serve(DIST);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  site?.server.close();
});

/** Walks every screen; `look(where)` is called on each. */
async function walk(page, look) {
  await page.getByTestId('recipients-screen').waitFor();
  await page.getByTestId('choose-file').click();
  await page.getByTestId('import-report').waitFor();
  await page.getByTestId('recipient-table').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=recipients] tbody tr').length > 10);
  // The server's words are there, quoted, as it said them.
  assert.match(await page.getByTestId('recipients').textContent(), /550 5\.1\.1 “User unknown”/);
  await look('recipients');
  await page.locator('[data-screen=smtp]').click();
  await page.getByTestId('test-connection').click();
  await page.getByTestId('verdict').waitFor();
  await look('smtp, a failed test');
  await page.getByTestId('preset').waitFor();
  await page.getByTestId('add-account').click();
  await page.getByTestId('preset').selectOption('qq');
  await look('smtp, a new account from a preset');
  await page.locator('[data-screen=message]').click();
  await page.getByTestId('message-screen').waitFor();
  await look('message');
  await page.getByTestId('preview').click();
  await page.getByTestId('preview-pane').waitFor();
  await look('message, a preview');
  await page.evaluate(() => window.__mailroom.answer('preview_message', window.__mailroom.cases.previewSkipped));
  await page.getByTestId('preview').click();
  await page.getByTestId('preview-skipped').waitFor();
  await look('message, the preview of a skipped row');
  // Every kind of template problem, said where it is (part, line, row).
  const problems = await page.evaluate(() => window.__mailroom.cases.templateErrors.length);
  let shown = '';
  for (let i = 0; i < problems; i++) {
    await page.evaluate((i) => window.__mailroom.fail('save_message', window.__mailroom.cases.templateErrors[i]), i);
    await page.getByTestId('preview').click();
    await page.waitForFunction(
      (before) => {
        const now = document.querySelector('[data-testid=template-problem]')?.textContent;
        return now !== undefined && now !== before;
      },
      shown,
    );
    shown = await page.getByTestId('template-problem').textContent();
    await look(`message, template problem ${i + 1}: ${shown}`);
  }
  // Every kind of file for everyone that cannot be attached.
  const files = await page.evaluate(() => window.__mailroom.cases.attachmentErrors.length);
  shown = '';
  for (let i = 0; i < files; i++) {
    await page.evaluate((i) => window.__mailroom.fail('save_message', window.__mailroom.cases.attachmentErrors[i]), i);
    await page.getByTestId('preview').click();
    await page.waitForFunction(
      (before) => {
        const now = document.querySelector('[data-testid=attachment-problem]')?.textContent;
        return now !== undefined && now !== before;
      },
      shown,
    );
    shown = await page.getByTestId('attachment-problem').textContent();
    await look(`message, attachment problem ${i + 1}: ${shown}`);
  }
  await page.evaluate(() => window.__mailroom.fail('save_message', null));
  await page.getByTestId('preview').click();
  await page.getByTestId('missing-attachments').waitFor();
  await look('message, recipients whose files cannot be attached');
  await page.locator('[data-screen=campaign]').click();
  await page.getByTestId('start').click();
  await page.getByTestId('events').waitFor();
  await page.getByTestId('pause-reason').waitFor();
  await look('campaign, paused after its run');
  await page.locator('[data-screen=results]').click();
  await page.getByTestId('resend-failed').waitFor();
  await look('results');
  await page.locator('[data-screen=suppression]').click();
  await page.getByTestId('suppression-table').waitFor();
  await look('suppression');
  await page.getByTestId('suppression-remove').first().click();
  await page.getByTestId('confirm-dialog').waitFor();
  await look('suppression, removing an address');
  await page.keyboard.press('Escape');
  await page.locator('[data-screen=sandbox]').click();
  await page.getByTestId('captured-row').first().click();
  await page.getByTestId('captured-message').waitFor();
  await look('sandbox');
  await page.locator('[data-screen=settings]').click();
  await page.getByTestId('database-path').waitFor();
  await look('settings');
  await page.evaluate(() =>
    window.__mailroom.event('close-requested', {
      sending: ['spring'],
      next: { campaign: 8, name: 'autumn', start_at: Date.UTC(2026, 11, 3, 8, 0), time_zone: 'Europe/Berlin' },
      away: 'minimised',
    }),
  );
  await page.getByTestId('close-dialog').waitFor();
  await look('closing');
  await page.keyboard.press('Escape');
  await page.evaluate(() =>
    window.__mailroom.event('close-requested', {
      sending: [],
      next: { campaign: 8, name: 'autumn', start_at: Date.UTC(2026, 11, 3, 8, 0), time_zone: 'Europe/Berlin' },
      away: 'tray',
    }),
  );
  await page.getByTestId('close-dialog').waitFor();
  await look('closing with only a schedule');
}

describe('One language at a time', () => {
  for (const [locale, foreign, name] of [
    ['zh-CN', latinWords, 'Latin-letter words'],
    ['en-US', hanRuns, 'Chinese'],
  ]) {
    test(`every screen in ${locale} has no ${name} outside quoted and imported text`, async () => {
      const context = await browser.newContext({ locale, viewport: { width: 1180, height: 900 } });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e));
      await page.addInitScript(() => {
        window.__MAILROOM_SCENARIO__ = { use: 'outcomes' };
        sessionStorage.removeItem('mailroom.test.settings');
      });
      await page.goto(site.url);
      const found = [];
      await walk(page, async (where) => {
        const words = foreign(await visibleText(page));
        if (words.length > 0) found.push(`${where}: ${words.join(', ')}`);
      });
      assert.deepEqual(found, []);
      assert.deepEqual(errors, []);
      await context.close();
    });
  }

  test('a template problem and an account warning are said in each language, with the part and line', async () => {
    for (const [locale, field, filter, warning] of [
      ['en-US', /^Subject, line 1: There is no merge field “nmae”\. Did you mean “name”\? The fields are: email, name, city$/, /^Plain-text body, line 4: There is no filter “uper” in a message\. Did you mean “upper”\?$/, /^No encryption: .* Certificates are not checked: /],
      ['zh-CN', /^主题第 1 行：没有合并字段 “nmae”。是不是 “name”？可用的字段：email, name, city$/, /^纯文本正文第 4 行：邮件中没有过滤器 “uper”。是不是 “upper”？$/, /^未加密：.*不检查证书：/],
    ]) {
      const context = await browser.newContext({ locale, viewport: { width: 1180, height: 900 } });
      const page = await context.newPage();
      await page.addInitScript(() => {
        window.__MAILROOM_SCENARIO__ = { use: 'outcomes' };
        sessionStorage.removeItem('mailroom.test.settings');
      });
      await page.goto(site.url);
      await page.locator('[data-screen=message]').click();
      await page.getByTestId('message-screen').waitFor();
      for (const [index, expected] of [[2, field], [3, filter]]) {
        await page.evaluate((i) => window.__mailroom.fail('save_message', window.__mailroom.cases.templateErrors[i]), index);
        await page.getByTestId('preview').click();
        await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('[data-testid=template-problem]')?.textContent ?? ''), expected.source);
        // The engine's English detail is not what the window shows.
        assert.doesNotMatch(await page.getByTestId('error').textContent(), /for the log/);
      }
      await page.locator('[data-screen=smtp]').click();
      assert.match(await page.locator('[data-testid=account-warnings]').getAttribute('title'), warning);
      await context.close();
    }
  });

  test('the rate an account held on its server is shown with its date in each language', async () => {
    for (const [locale, expected] of [
      ['en-US', /held 14\.2\/s on Dec 3/],
      ['zh-CN', /12月3日 保持 每秒 14\.2 封/],
    ]) {
      const context = await browser.newContext({ locale, viewport: { width: 1180, height: 900 } });
      const page = await context.newPage();
      await page.addInitScript(() => {
        window.__MAILROOM_SCENARIO__ = { use: 'outcomes' };
        sessionStorage.removeItem('mailroom.test.settings');
      });
      await page.goto(site.url);
      await page.locator('[data-screen=smtp]').click();
      assert.match(await page.getByTestId('held-rate').textContent(), expected);
      assert.match(await page.getByTestId('held-rate-note').textContent(), expected);
      await context.close();
    }
  });

  test('switching the language says the run and the reasons again in the new one', async () => {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1180, height: 900 } });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__MAILROOM_SCENARIO__ = { use: 'outcomes', held: ['start_campaign'] };
    });
    await page.goto(site.url);
    await page.locator('[data-screen=campaign]').click();
    await page.getByTestId('start').click();
    await page.getByTestId('events').waitFor();
    // While it runs: the ETA and the rate in Chinese units.
    const figures = await page.getByTestId('rate').textContent();
    assert.match(figures, /约剩 1分钟26秒/);
    assert.match(figures, /每秒发送 4\.9 封/);
    await page.evaluate(() => window.__mailroom.release('start_campaign'));
    await page.getByTestId('pause-reason').waitFor();
    const chinese = await page.getByTestId('events').textContent();
    assert.match(chinese, /通过 Sandbox 发送/);
    // Each event says when it happened (issue 18), as the locale writes a time.
    const times = await page.locator('[data-testid=events] li time').allTextContents();
    assert.ok(times.length > 0 && times.every((time) => /^\d{1,2}:\d{2}:\d{2}$/.test(time)), times.join(' | '));
    assert.match(chinese, /账户每分钟 300 封的配额已用完/);
    assert.match(await page.getByTestId('pause-reason').textContent(), /连续 20 位收件人发送失败/);

    await page.locator('[data-screen=settings]').click();
    await page.getByTestId('language').selectOption('en');
    await page.locator('[data-screen=campaign]').click();
    const english = await page.getByTestId('events').textContent();
    assert.deepEqual(hanRuns(english), [], english);
    assert.match(english, /sending through Sandbox/);
    assert.match(english, /300-per-minute quota/);
    assert.match(await page.getByTestId('pause-reason').textContent(), /20 recipients failed in a row/);
    await context.close();
  });
});
