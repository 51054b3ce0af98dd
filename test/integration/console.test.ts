/**
 * The console in a real browser (Debian's Chromium through playwright-core) against the real stack:
 * worker and server on the real Temporal dev server and PostgreSQL, callbacks signed and posted
 * over HTTP like ZEGO's. Covers what an operator does (sign in, watch a task run, open it, read its
 * timeline and bill, read the usage chart, redeliver from the inbox), and what must hold around it:
 * every admin route refuses without a token and with a wrong one and takes each rotated token,
 * the sign-in rate limit, sign-out, expired, forged and revoked sessions, inert hostile TaskIds,
 * keyboard-only use. Screenshots (1280×800 and 390 wide) go to the folder printed at the start.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { loadServerConfig } from '../../src/config';
import { sessionValue, SESSION_MAX_AGE_MS } from '../../src/console/session';
import { createLogger } from '../../src/logger';
import type { InboxEntry } from '../../src/store/inbox';
import { startHttpService, type HttpService } from '../../src/main/services';
import { temporalConnectConfig } from '../../src/temporal/connection';
import { launchBrowser, rawRequest, type TestBrowser } from '../helpers/browser';
import { startTestService, uniqueTask, zegoTime, type TestService } from '../helpers/service';
import { transcodeStart, transcodeStop } from '../../tools/callbacks/signed-callback';
import { lifecycleWorkflowId, type CallbackSignalPayload } from '../../workflows/definitions';

const TOKEN_A = 'console-token-a-0123456789abcdef';
const TOKEN_B = 'console-token-b-fedcba9876543210';
const TEMPORAL_UI = 'http://127.0.0.1:18233';
const SHOTS = path.join(tmpdir(), `zego-console-screenshots-${Date.now()}`);

let svc: TestService;
let browser: TestBrowser;
/** A second server with ADMIN_TOKEN=b only: the same deployment after token a was removed. */
let rotated: HttpService;

const today = () => new Date().toISOString().slice(0, 10);
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

async function newPage(): Promise<Page> {
  const page = await browser.context.newPage();
  // No script runs in the console: a dialog means an injected one did.
  page.on('dialog', (d) => {
    throw new Error(`unexpected dialog: ${d.message()}`);
  });
  return page;
}

/**
 * Waits for the page `action` leads to (the sign-in form also lives at /console, so waiting for the
 * URL alone would return before the navigation); resolves with its status.
 */
async function navigation(page: Page, action: () => Promise<unknown>): Promise<number> {
  // waitForNavigation (unlike waitForURL) also sees a navigation to the URL the page is already at.
  const [response] = await Promise.all([page.waitForNavigation(), action()]);
  return response?.status() ?? 0;
}

async function signIn(page: Page, token = TOKEN_A, base = svc.url): Promise<void> {
  const first = await page.goto(`${base}/console`);
  expect(first?.status()).toBe(401);
  await page.getByLabel('Admin token').fill(token);
  await navigation(page, () => page.getByRole('button', { name: 'Sign in' }).click());
  expect(page.url()).toBe(`${base}/console`);
  expect(await page.locator('h1').textContent()).toBe('Tasks');
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}-1280.png`), fullPage: true });
  const size = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, `${name}-390.png`), fullPage: true });
  // Nothing wider than the phone's screen but the scrollable tables.
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
  expect([name, overflow]).toEqual([name, 0]);
  await page.setViewportSize(size);
}

/** Reloads until `check` holds (Temporal visibility and the workflow catch up within seconds). */
async function reloadUntil(page: Page, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`page never got there: ${page.url()}`);
    await sleep(300);
    await page.reload();
  }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  console.log(`console screenshots: ${SHOTS}`);
  svc = await startTestService({
    database: 'postgres',
    env: { ADMIN_TOKEN: `${TOKEN_A},${TOKEN_B}`, TEMPORAL_UI_URL: TEMPORAL_UI },
  });
  rotated = await startHttpService(
    loadServerConfig({ ...svc.env, ADMIN_TOKEN: TOKEN_B }),
    temporalConnectConfig(process.env),
    createLogger({ level: 'silent' }),
  );
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await rotated?.close();
  await svc?.stop();
});

beforeEach(async () => {
  await browser.context.clearCookies();
});

describe('the console in a browser', () => {
  it('sign in, watch a task run, open it, read its timeline and bill once stopped, and the usage chart', async () => {
    const page = await newPage();
    await signIn(page);
    const { appId, taskId } = uniqueTask('console');
    const now = Number(zegoTime());
    expect(
      (await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 600) }))).status,
    ).toBe(200);

    // The running task appears in the overview's Running table.
    const runningRow = page.locator('[aria-label="Running tasks"] tr', { hasText: taskId });
    await reloadUntil(page, async () => (await runningRow.count()) === 1);
    await shoot(page, 'overview');
    await runningRow.getByRole('link', { name: taskId }).click();
    await page.waitForURL(/\/console\/apps\/\d+\/tasks\//);
    expect(await page.locator('h1 .badge').textContent()).toBe('running');
    expect(await page.locator('#timeline tbody tr').count()).toBe(1);

    expect(
      (await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: String(now) })))
        .status,
    ).toBe(200);
    await reloadUntil(
      page,
      async () => (await page.locator('#billing .badge').textContent()) === 'finalized',
    );
    const doc = (await svc.get(`/apps/${appId}/tasks/${encodeURIComponent(taskId)}`)).json as unknown as {
      runId: string;
      workflowId: string;
      events: { timestamp: string; receivedAt: string }[];
      billing: { totalCost: number; lines: { tier: string; seconds: number; minutes: number }[] };
    };
    expect(await page.locator('h1 .badge').textContent()).toBe('stopped');
    // Timeline: each callback's ZEGO Timestamp beside when it was received.
    const timeline = await page.locator('#timeline tbody tr').allTextContents();
    expect(timeline).toHaveLength(2);
    for (const [i, event] of doc.events.entries()) {
      expect(timeline[i]).toContain(`(${event.timestamp})`);
      expect(timeline[i]).toContain(event.receivedAt.slice(0, 19).replace('T', ' '));
    }
    // The bill: one hd line of 600 s / 10 min, as in the state document.
    const line = await page.locator('#billing-lines tbody tr').first().locator('td').allTextContents();
    expect(line).toEqual(['hd', '600', '10', String(doc.billing.totalCost)]);
    expect(doc.billing.lines).toEqual([expect.objectContaining({ tier: 'hd', seconds: 600, minutes: 10 })]);
    expect(await page.locator('#segments tbody tr').count()).toBe(1);
    expect(await page.locator('#temporal-ui').getAttribute('href')).toBe(
      `${TEMPORAL_UI}/namespaces/default/workflows/${encodeURIComponent(doc.workflowId)}/${doc.runId}/history`,
    );
    await shoot(page, 'task');

    // Usage: the numbers on the page are GET /usage's.
    await page.goto(`${svc.url}/console/usage?appId=${appId}&from=${today()}&to=${today()}`);
    const report = (await svc.get(`/usage?appId=${appId}&from=${today()}&to=${tomorrow()}`))
      .json as unknown as {
      totals: {
        minutes: number;
        cost: number;
        lifecycles: number;
        byTier: Record<string, { minutes: number }>;
      };
    };
    expect(report.totals.minutes).toBe(10);
    expect(Number(await page.locator('#total-minutes').textContent())).toBe(report.totals.minutes);
    expect(Number(await page.locator('#total-cost').textContent())).toBe(report.totals.cost);
    expect(Number(await page.locator('#total-lifecycles').textContent())).toBe(report.totals.lifecycles);
    const tierRow = await page.locator('#usage-totals tbody tr').first().locator('td').allTextContents();
    expect(tierRow.slice(0, 2)).toEqual(['hd', String(report.totals.byTier.hd.minutes)]);
    const bars = page.locator('.chart svg rect');
    expect(await bars.count()).toBe(1);
    expect(await bars.first().locator('title').textContent()).toContain(`${today()} · hd: 10 min`);
    await shoot(page, 'usage');
    await page.close();
  });

  it('hostile TaskIds are shown as text, never as markup', async () => {
    const { appId } = uniqueTask();
    const taskId = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>"'&`;
    expect(
      (await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: zegoTime(-60) }))).status,
    ).toBe(200);
    await svc.waitForTask(appId, taskId, (d) => d.status === 'running');
    const page = await newPage();
    await signIn(page);
    await page.goto(`${svc.url}/console?appId=${appId}`);
    const link = page.locator('[aria-label="Matching tasks"] a.mono');
    await reloadUntil(page, async () => (await link.count()) === 1);
    expect(await link.textContent()).toBe(taskId);
    await link.click();
    await page.waitForURL(/\/tasks\//);
    for (const url of [page.url(), `${svc.url}/console?taskId=${encodeURIComponent(`${taskId}x`)}`]) {
      await page.goto(url);
      expect(await page.locator('img, script').count()).toBe(0);
      expect(await page.evaluate('window.pwned')).toBeUndefined();
      expect(await page.locator('main').textContent()).toContain(taskId.slice(0, 20));
    }
    await page.close();
  });

  it('keyboard only: skip link, navigation, search and sign-out are reachable, with a visible focus ring', async () => {
    const page = await newPage();
    await page.goto(`${svc.url}/console`);
    // The token field has focus on arrival. (The browser applies `autofocus` at a rendering update,
    // which may come after the load event goto waits for: wait for it, boundedly.)
    await page.waitForFunction("document.activeElement && document.activeElement.id === 'token'", undefined, {
      timeout: 5_000,
    });
    await page.keyboard.type(TOKEN_A);
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);

    const focused = () =>
      page.evaluate<{ text: string; id: string; outline: string }>(`(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return { text: (el.textContent || '').trim(), id: el.id, outline: style.outlineStyle + ' ' + style.outlineWidth };
      })()`);
    const tabTo = async (match: (f: { text: string; id: string }) => boolean) => {
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        const f = await focused();
        seen.push(f.id || f.text.slice(0, 30));
        if (match(f)) {
          expect(f.outline).toBe('solid 3px');
          return;
        }
      }
      throw new Error(`never reached by Tab on ${page.url()}; focus went through ${seen.join(' | ')}`);
    };
    await tabTo((f) => f.text === 'Skip to content');
    await page.keyboard.press('Enter');
    expect((await focused()).id).toBe('main');
    await tabTo((f) => f.id === 'f-task');
    await page.keyboard.type('no-such-task');
    await page.keyboard.press('Enter');
    await page.waitForURL(/taskId=no-such-task/);
    expect(await page.locator('.notice').textContent()).toContain('No task with TaskId');
    await tabTo((f) => f.text === 'Usage');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/usage$/);
    await tabTo((f) => f.text === 'Inbox');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/inbox$/);
    await tabTo((f) => f.text === 'Sign out');
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(401);
    expect(await page.locator('#token').count()).toBe(1);
    await page.close();
  });

  it('sign-out ends the session in this browser', async () => {
    const page = await newPage();
    await signIn(page);
    expect((await browser.context.cookies()).map((c) => c.name)).toEqual(['zt_console']);
    const cookie = (await browser.context.cookies())[0];
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console', expires: -1 });
    expect(cookie.value).not.toContain(TOKEN_A);
    expect(await navigation(page, () => page.getByRole('button', { name: 'Sign out' }).click())).toBe(401);
    expect(await browser.context.cookies()).toEqual([]);
    const again = await page.goto(`${svc.url}/console/usage`);
    expect(again?.status()).toBe(401);
    await page.close();
  });

  it('an expired or forged session cookie leads back to the sign-in form', async () => {
    const page = await newPage();
    const url = new URL(svc.url);
    const cases = [
      {
        value: sessionValue(TOKEN_A, Date.now() - SESSION_MAX_AGE_MS - 60_000),
        message: 'Your session has ended',
      },
      { value: sessionValue('a-guessed-token', Date.now()), message: 'Your session is not valid' },
      { value: `${Date.now()}.${'A'.repeat(43)}`, message: 'Your session is not valid' },
    ];
    for (const { value, message } of cases) {
      await browser.context.addCookies([
        {
          name: 'zt_console',
          value,
          domain: url.hostname,
          path: '/console',
          httpOnly: true,
          sameSite: 'Strict',
        },
      ]);
      const res = await page.goto(`${svc.url}/console`);
      expect(res?.status()).toBe(401);
      expect(await page.locator('.notice').textContent()).toContain(message);
      // The refused cookie was cleared.
      expect(await browser.context.cookies()).toEqual([]);
    }
    await page.close();
  });

  it('removing a token from ADMIN_TOKEN ends the sessions it opened, the other token’s stay', async () => {
    // Cookies are per host, not per port: the browser offers the same cookie to both servers.
    const page = await newPage();
    await signIn(page, TOKEN_A);
    expect((await page.goto(`${rotated.adminUrl}/console`))?.status()).toBe(401);
    expect(await page.locator('.notice').textContent()).toContain('not valid');
    await browser.context.clearCookies();
    await signIn(page, TOKEN_B);
    expect((await page.goto(`${rotated.adminUrl}/console`))?.status()).toBe(200);
    await page.close();
  });
});

describe('every admin route, JSON and console', () => {
  const jsonRoutes = () => [
    ['GET', '/tasks?status=running'],
    ['GET', '/tasks/some-task'],
    ['GET', '/apps/111/tasks/some-task'],
    ['GET', `/usage?appId=111&from=${today()}&to=${tomorrow()}`],
    ['GET', '/metrics'],
    ['GET', '/callbacks'],
    ['GET', '/callbacks/1'],
    ['POST', '/callbacks/1/redeliver'],
    ['POST', '/callbacks/redeliver?status=rejected'],
    ['GET', '/alerts'],
  ];
  const consoleRoutes = [
    ['GET', '/console'],
    ['GET', '/console/apps/111/tasks/some-task'],
    ['GET', '/console/usage?appId=111'],
    ['GET', '/console/alerts'],
    ['GET', '/console/inbox'],
    ['POST', '/console/inbox/1/redeliver'],
    ['POST', '/console/inbox/redeliver-rejected'],
    ['POST', '/console/logout'],
  ];

  it('refuse without a token and with a wrong one; take each rotated token', async () => {
    const routes = [...jsonRoutes(), ...consoleRoutes];
    await Promise.all(
      routes.map(async ([method, route], i) => {
        // Each route from its own loopback address: its refusals use up only its own allowance.
        const from = `127.0.0.${20 + i}`;
        const call = (headers: Record<string, string>) =>
          rawRequest(`${svc.url}${route}`, {
            method,
            headers,
            from,
            body: method === 'POST' ? '' : undefined,
          });
        const label = `${method} ${route}`;
        const refused: Record<string, string>[] = [
          {},
          { authorization: `Bearer ${TOKEN_A}x` },
          { authorization: `Bearer ${TOKEN_B.slice(0, -1)}` },
          { cookie: `zt_console=${sessionValue('wrong-token', Date.now())}` },
        ];
        for (const headers of refused) {
          const r = await call(headers);
          expect([label, headers, r.status]).toEqual([label, headers, 401]);
          expect(r.body).not.toContain(TOKEN_A);
          expect(r.body).not.toContain(TOKEN_B);
        }
        for (const token of [TOKEN_A, TOKEN_B]) {
          const r = await call({ authorization: `Bearer ${token}` });
          expect([label, token, r.status === 401 || r.status === 429]).toEqual([label, token, false]);
        }
        if (route.startsWith('/console') && method === 'GET') {
          // And with the session cookie each token opens.
          for (const token of [TOKEN_A, TOKEN_B]) {
            const r = await call({ cookie: `zt_console=${sessionValue(token, Date.now())}` });
            expect([label, token, r.status === 401 || r.status === 429]).toEqual([label, token, false]);
          }
        }
        if (!route.startsWith('/console')) {
          // The JSON API is bearer-only: a valid console session does not open it.
          const r = await call({ cookie: `zt_console=${sessionValue(TOKEN_A, Date.now())}` });
          expect([label, r.status]).toEqual([label, 401]);
        }
      }),
    );
  });

  it('sign-in attempts are rate-limited per address, a right token included, then it passes again elsewhere', async () => {
    const from = '127.0.0.90';
    const login = (token: string, source = from) =>
      rawRequest(`${svc.url}/console/login`, {
        method: 'POST',
        from: source,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
    for (let i = 0; i < 20; i++) expect((await login(`guess-${i}`)).status).toBe(401);
    const limited = await login(TOKEN_A);
    expect(limited.status).toBe(429);
    expect(limited.body).toContain('Too many failed sign-in attempts');
    expect(limited.headers['set-cookie']).toBeUndefined();
    // The same address is limited on the JSON API too (one allowance).
    expect(
      (
        await rawRequest(`${svc.url}/tasks?status=running`, {
          from,
          headers: { authorization: `Bearer ${TOKEN_A}` },
        })
      ).status,
    ).toBe(429);
    const elsewhere = await login(TOKEN_A, '127.0.0.91');
    expect(elsewhere.status).toBe(303);
    expect(String(elsewhere.headers['set-cookie'])).toMatch(/^zt_console=\d{13}\./);
  });
});

describe('page weight and load time', () => {
  it('measures the overview, a task page and the usage page (bytes, gzip, load time median of 5)', async () => {
    const { appId, taskId } = uniqueTask('weight');
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: zegoTime(-120) }));
    await svc.post(transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, Timestamp: zegoTime() }));
    await svc.waitForTask(appId, taskId, (d) => d.billing.status === 'finalized');
    const page = await newPage();
    await signIn(page);
    const bearer = { authorization: `Bearer ${TOKEN_A}` };
    const cssHref = await page.locator('link[rel=stylesheet]').getAttribute('href');
    const css = (await rawRequest(`${svc.url}${cssHref}`, { headers: bearer })).body;
    const pages = {
      overview: `${svc.url}/console`,
      task: `${svc.url}/console/apps/${appId}/tasks/${encodeURIComponent(taskId)}`,
      usage: `${svc.url}/console/usage?appId=${appId}`,
    };
    const results: Record<string, unknown> = {};
    for (const [name, url] of Object.entries(pages)) {
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) {
        await page.goto(url);
        timings.push(
          await page.evaluate<number>(
            `(() => { const nav = performance.getEntriesByType('navigation')[0]; return nav.loadEventEnd - nav.startTime; })()`,
          ),
        );
      }
      expect(await page.locator('script').count()).toBe(0);
      timings.sort((a, b) => a - b);
      const html = (await rawRequest(url, { headers: bearer })).body;
      const bytes = { html: Buffer.byteLength(html), css: Buffer.byteLength(css), js: 0 };
      results[name] = {
        ...bytes,
        htmlGzip: gzipSync(html).length,
        cssGzip: gzipSync(css).length,
        loadMsMedian: Math.round(timings[2] * 10) / 10,
        loadMsAll: timings.map((x) => Math.round(x * 10) / 10),
      };
      expect(bytes.html).toBeGreaterThan(1000);
      expect(bytes.html + bytes.css).toBeLessThan(100_000);
    }
    console.log(`console page weight and load time: ${JSON.stringify(results, null, 2)}`);
    await page.close();
  });
});

describe('the callback inbox page', () => {
  /**
   * A rejected entry made the way the relay makes one: the callback is recorded (as the callback
   * route records it), claimed with a lease, then rejected. The relay may claim a fresh entry first;
   * then it is delivered and another one is tried.
   */
  async function rejectedEntry(): Promise<{ id: string; appId: string; taskId: string }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { appId, taskId } = uniqueTask('inbox');
      const timestamp = zegoTime(-60);
      const nonce = String(randomInt(1e9, 9e9));
      const payload: CallbackSignalPayload = {
        event: 'transcode_start',
        appId,
        taskId,
        userId: 'user-1',
        sequence: 0,
        status: 'TranscodeStarted',
        timestamp,
        nonce,
        input: { StreamId: 'in' },
        outputs: [{ StreamId: 'out', Width: 1280, Height: 720 }],
        receivedAt: new Date().toISOString(),
      };
      const workflowId = lifecycleWorkflowId(appId, taskId);
      const recorded = await svc.db.inbox.record({
        nonceKey: `${timestamp}:${nonce}`,
        fingerprint: randomUUID(),
        nonceExpiresAtMs: Date.now() + 600_000,
        workflowId,
        payload,
      });
      if (recorded.binding === 'conflict') continue;
      const claimed = await svc.db.inbox.claim(`console-test-${attempt}`, {
        tasks: 1,
        leaseMs: 60_000,
        workflowId,
      });
      if (!claimed.some((e) => e.id === recorded.id)) continue;
      const rejected = await svc.db.inbox.reject(recorded.id, 'refused for good (made by the test)');
      if (rejected) return { id: recorded.id, appId, taskId };
    }
    throw new Error('could not make a rejected inbox entry');
  }

  async function delivered(id: string): Promise<InboxEntry> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const entry = await svc.db.inbox.get(id);
      if (entry?.status === 'delivered') return entry;
      if (Date.now() > deadline)
        throw new Error(`entry ${id} was not delivered again: ${JSON.stringify(entry)}`);
      await sleep(200);
    }
  }

  it('lists a rejected callback, redelivers it, then redelivers all rejected; the relay delivers them', async () => {
    const one = await rejectedEntry();
    const page = await newPage();
    await signIn(page);
    await page.goto(`${svc.url}/console/inbox?status=rejected&appId=${one.appId}`);
    const row = page.locator('#entries-rejected tbody tr', { hasText: one.taskId });
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('refused for good');
    await shoot(page, 'inbox');
    expect(
      await navigation(page, () =>
        page.getByRole('button', { name: `Redeliver callback ${one.id}` }).click(),
      ),
    ).toBe(200);
    expect(await page.locator('.notice').textContent()).toContain(
      `Callback ${one.id} handed back to the relay.`,
    );
    const again = await delivered(one.id);
    expect(again.redeliveries).toBe(1);
    // Its lifecycle now has the callback.
    await svc.waitForTask(one.appId, one.taskId, (d) => d.status === 'running' && d.events.length === 1);

    // Redeliver all rejected, keyboard only: Tab to the button, Enter.
    const two = await rejectedEntry();
    const three = await rejectedEntry();
    await page.goto(`${svc.url}/console/inbox`);
    expect(await page.locator('#stat-rejected').textContent()).not.toBe('0');
    const button = page.locator('#redeliver-rejected');
    expect(await button.textContent()).toMatch(/^Redeliver all rejected \(\d+\)$/);
    for (let i = 0; i < 40 && !(await button.evaluate((b) => b === b.ownerDocument.activeElement)); i++) {
      await page.keyboard.press('Tab');
    }
    expect(await navigation(page, () => page.keyboard.press('Enter'))).toBe(200);
    expect(await page.locator('.notice').textContent()).toMatch(
      /rejected callbacks handed back to the relay/,
    );
    for (const entry of [two, three]) expect((await delivered(entry.id)).redeliveries).toBe(1);
    await page.close();
  });
});

describe('the alerts page', () => {
  it('shows an abnormal stop from the alert log, linked to its task', async () => {
    const { appId, taskId } = uniqueTask('alert');
    const now = Number(zegoTime());
    await svc.post(transcodeStart({ Appid: appId, TaskId: taskId, Timestamp: String(now - 60) }));
    await svc.post(
      transcodeStop({ Appid: appId, TaskId: taskId, Sequence: 1, StopReason: 1, Timestamp: String(now) }),
    );
    await svc.waitForTask(appId, taskId, (d) => d.alerts.some((a) => a.kind === 'abnormal_stop'));
    const page = await newPage();
    await signIn(page);
    await page.goto(`${svc.url}/console/alerts?appId=${appId}`);
    const row = page.locator('#alerts tbody tr', { hasText: taskId });
    await reloadUntil(page, async () => (await row.count()) === 1);
    expect(await row.locator('.badge').first().textContent()).toBe('abnormal stop');
    await shoot(page, 'alerts');
    await row.getByRole('link', { name: taskId }).click();
    await page.waitForURL(/\/tasks\//);
    expect(await page.locator('h1 .badge').textContent()).toBe('aborted');
    await page.close();
  });
});
