/**
 * The console through the real HTTP app (createApp): sign-in, session cookie, CSRF, the shared
 * failure limit, escaping, headers, and the pure pieces (URL masking, contrast, chart scale). The
 * gateway, usage reader and inbox are small in-memory stand-ins; the real stack in a real browser
 * is test/integration/console.test.ts.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp, type AppDeps } from '../../src/http/app';
import { createMetrics } from '../../src/http/metrics';
import type { LifecycleGateway, TaskListItem } from '../../src/http/ports';
import { createLogger } from '../../src/logger';
import { DirectRecorder } from '../../src/inbox/recorders';
import { MemoryNonceStore } from '../../src/store/nonces';
import type { InboxEntry } from '../../src/store/inbox';
import type { UsageReader } from '../../src/store/usage';
import { maskStreamUrl, formatCost } from '../../src/console/format';
import { escapeHtml, html } from '../../src/console/html';
import { niceStep, usageChart } from '../../src/console/chart';
import { csrfToken, sessionValue, SESSION_MAX_AGE_MS, verifySession } from '../../src/console/session';
import { CONTRAST_PAIRS, STYLESHEET_PATH } from '../../src/console/style';
import { lifecycleWorkflowId, type LifecycleStateDocument } from '../../workflows/definitions';
import { TEST_CALLBACK_SECRET } from '../../tools/callbacks/signed-callback';

const TOKEN_A = 'console-unit-token-aaaaaaaaaaaa';
const TOKEN_B = 'console-unit-token-bbbbbbbbbbbb';
const XSS_TASK = `<script>alert("x")</script>'"&<img src=x onerror=alert(1)>`;

function doc(appId: string, taskId: string): LifecycleStateDocument {
  return {
    appId,
    taskId,
    userId: 'user-1',
    workflowId: lifecycleWorkflowId(appId, taskId),
    runId: 'run-1',
    lifecycleId: 'lc-1',
    status: 'stopped',
    startedAt: '2023-11-14T22:13:20.000Z',
    stoppedAt: '2023-11-14T22:23:20.000Z',
    durationSeconds: 600,
    stopReason: 0,
    input: {
      StreamId: 'in',
      StreamUrl: 'rtmp://push.example.com/live/sk_live_SECRETKEY123?auth=SECRETQUERY',
    },
    outputs: [{ StreamId: 'out', StreamUrl: 'rtmp://cdn.example.com/app/out', Width: 1280, Height: 720 }],
    events: [
      {
        event: 'transcode_start',
        status: 'TranscodeStarted',
        sequence: 0,
        timestamp: '1700000000',
        receivedAt: '2023-11-14T22:13:21.000Z',
        deliveries: 2,
      },
      {
        event: 'transcode_stop',
        status: 'TranscodeStopped',
        sequence: 1,
        timestamp: '1700000600',
        receivedAt: '2023-11-14T22:23:20.500Z',
        deliveries: 1,
        stopReason: 0,
      },
    ],
    eventsOmitted: 0,
    billing: {
      status: 'finalized',
      billableSeconds: 600,
      billableMinutes: 10,
      lines: [{ tier: 'hd', seconds: 600, minutes: 10, cost: 0.25 }],
      currency: 'CNY',
      totalCost: 0.25,
    },
    segments: [
      {
        from: '2023-11-14T22:13:20.000Z',
        until: '2023-11-14T22:23:20.000Z',
        sequence: 0,
        outputs: [{ Width: 1280, Height: 720 }],
      },
    ],
    alerts: [],
    cleanup: { status: 'done' },
    followUps: [{ name: 'taskFinishedWebhook', status: 'done', attempts: 1, error: null }],
    maxSequence: 1,
    closed: false,
  };
}

class MemoryGateway implements LifecycleGateway {
  docs = new Map<string, LifecycleStateDocument>();
  async deliver(): Promise<never> {
    throw new Error('the console never delivers');
  }
  async getTask(appId: string, taskId: string) {
    return this.docs.get(`${appId}/${taskId}`) ?? null;
  }
  async appsForTask(taskId: string) {
    return [...this.docs.values()].filter((d) => d.taskId === taskId).map((d) => d.appId);
  }
  async list(): Promise<TaskListItem[]> {
    return [...this.docs.values()].map((d) => ({
      appId: d.appId,
      taskId: d.taskId,
      userId: d.userId,
      workflowId: d.workflowId,
      runId: d.runId,
      status: d.status,
      executionStatus: 'RUNNING',
      startTime: '2023-11-14T22:13:20.000Z',
      closeTime: null,
    }));
  }
  async isReady() {
    return true;
  }
}

const usage: UsageReader = {
  async report() {
    return {
      currency: 'CNY',
      rows: [
        { group: '2023-11-14', tier: 'hd', seconds: 600, minutes: 10, cost: 0.25, lifecycles: 1 },
        { group: '2023-11-15', tier: 'fhd', seconds: 60, minutes: 1, cost: 0.098, lifecycles: 1 },
      ],
      totals: {
        seconds: 660,
        minutes: 11,
        cost: 0.348,
        lifecycles: 2,
        byTier: {
          hd: { seconds: 600, minutes: 10, cost: 0.25, lifecycles: 1 },
          fhd: { seconds: 60, minutes: 1, cost: 0.098, lifecycles: 1 },
        },
      },
    };
  },
};

function entry(id: string, status: InboxEntry['status']): InboxEntry {
  return {
    id,
    status,
    appId: '111',
    taskId: 't1',
    workflowId: lifecycleWorkflowId('111', 't1'),
    event: 'transcode_start',
    callbackStatus: 'TranscodeStarted',
    sequence: 0,
    receivedAt: '2023-11-14T22:13:21.000Z',
    attempts: 1,
    redeliveries: 0,
    deliveredAt: null,
    outcome: null,
    runId: null,
    error: status === 'rejected' ? 'refused for good' : null,
    leaseUntil: null,
    traceContext: null,
    payload: {} as InboxEntry['payload'],
  };
}

interface Harness {
  url: string;
  gateway: MemoryGateway;
  metrics: ReturnType<typeof createMetrics>;
  redelivered: string[];
  logs: string[];
  clock: { now: number };
  close(): Promise<void>;
}

async function start(overrides: Partial<AppDeps> = {}): Promise<Harness> {
  const gateway = new MemoryGateway();
  gateway.docs.set('111/t1', doc('111', 't1'));
  gateway.docs.set(`111/${XSS_TASK}`, doc('111', XSS_TASK));
  const metrics = createMetrics({ defaultMetrics: false });
  const nonces = new MemoryNonceStore({ sweepIntervalMs: 0 });
  const redelivered: string[] = [];
  const logs: string[] = [];
  const clock = { now: Date.now() };
  const entries = [entry('7', 'rejected'), entry('8', 'pending')];
  const app = createApp({
    gateway,
    recorder: new DirectRecorder(nonces, gateway),
    readiness: async () => ({
      status: 'ready',
      mode: 'direct',
      dependencies: [{ dependency: 'temporal', ready: true }],
    }),
    logger: createLogger({
      level: 'debug',
      destination: { write: (line: string) => logs.push(line) } as unknown as NodeJS.WritableStream,
    }),
    metrics,
    secrets: [TEST_CALLBACK_SECRET],
    maxSkewMs: 300_000,
    now: () => clock.now,
    usage,
    adminTokens: [TOKEN_A, TOKEN_B],
    temporalUi: { url: 'http://ui.example:8233', namespace: 'default' },
    inbox: {
      async list(filter: { status?: string } = {}) {
        return entries.filter((e) => !filter.status || e.status === filter.status);
      },
      async stats() {
        return { pending: 1, rejected: 1, oldestPendingAgeSeconds: 3, oldestPendingId: '8' };
      },
      async redeliver(id: string) {
        redelivered.push(id);
        return entries.find((e) => e.id === id) ?? null;
      },
      async redeliverAll() {
        redelivered.push('all');
        return ['7'];
      },
    } as unknown as AppDeps['inbox'],
    ...overrides,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    gateway,
    metrics,
    redelivered,
    logs,
    clock,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await nonces.close();
    },
  };
}

interface Page {
  status: number;
  headers: Headers;
  text: string;
}

async function fetchPage(url: string, init: RequestInit = {}): Promise<Page> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function login(
  h: Harness,
  token: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  return fetchPage(`${h.url}/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token, ...extra }).toString(),
  });
}

/** The `name=value` part of the session cookie a response sets. */
function cookieOf(page: Page): string {
  const set = page.headers.get('set-cookie') ?? '';
  return set.split(';')[0];
}

function csrfOf(text: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(text);
  if (!m) throw new Error('no CSRF field in the page');
  return m[1];
}

let h: Harness;
beforeEach(async () => {
  h = await start();
});
afterEach(async () => {
  await h.close();
});

describe('console sign-in', () => {
  it('without credentials every console path answers 401 with the sign-in form and no data', async () => {
    for (const path of [
      '/console',
      '/console/',
      '/console/apps/111/tasks/t1',
      '/console/usage?appId=111',
      '/console/nope',
    ]) {
      const page = await fetchPage(`${h.url}${path}`);
      expect([path, page.status]).toEqual([path, 401]);
      expect(page.text).toContain('<form method="post" action="/console/login">');
      expect(page.text).toContain('<label for="token">Admin token</label>');
      expect(page.text).not.toContain('user-1');
      expect(page.text).not.toContain('t1</a>');
      expect(page.headers.get('cache-control')).toBe('no-store');
      // The sign-in page inlines the stylesheet; the policy names its hash and allows no script.
      expect(page.headers.get('content-security-policy')).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'none'");
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    }
    // Looking at the form is not a failed attempt.
    expect(await h.metrics.registry.metrics()).not.toMatch(/zego_admin_auth_failures_total\{[^}]*\} [1-9]/);
  });

  it.each([TOKEN_A, TOKEN_B])(
    'a right token (%#) opens a browser-session cookie that is not the token',
    async (token) => {
      const page = await login(h, token, { next: '/console/usage?appId=111' });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe('/console/usage?appId=111');
      const set = page.headers.get('set-cookie') ?? '';
      expect(set).toMatch(
        /^zt_console=\d{13}\.[A-Za-z0-9_-]{43}; Path=\/console; HttpOnly; SameSite=Strict$/,
      );
      expect(set).not.toContain(token);
      expect(set).not.toMatch(/Max-Age|Expires/i);
      const overview = await fetchPage(`${h.url}/console`, { headers: { cookie: cookieOf(page) } });
      expect(overview.status).toBe(200);
      expect(overview.text).toContain('Sign out');
      expect(overview.text).toContain('href="/console/apps/111/tasks/t1"');
      expect(overview.headers.get('content-security-policy')).toContain("style-src 'self'");
      expect(h.logs.join('')).not.toContain(token);
    },
  );

  it('Secure when the request came over https (through a proxy that says so)', async () => {
    const page = await login(h, TOKEN_A, {}, { 'x-forwarded-proto': 'https' });
    expect(page.headers.get('set-cookie')).toMatch(/; Secure$/);
  });

  it('a wrong or empty token is refused with the form again, counted, and never echoed', async () => {
    const wrong = await login(h, `${TOKEN_A}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('That token is not accepted.');
    expect(wrong.text).not.toContain(TOKEN_A);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const empty = await login(h, '');
    expect(empty.status).toBe(401);
    const metrics = await h.metrics.registry.metrics();
    expect(metrics).toContain('zego_admin_auth_failures_total{reason="invalid"} 1');
    expect(metrics).toContain('zego_admin_auth_failures_total{reason="missing"} 1');
    expect(h.logs.join('')).not.toContain(TOKEN_A);
  });

  it('sign-in failures and bearer failures share one per-address allowance (429 afterwards)', async () => {
    for (let i = 0; i < 15; i++) expect((await login(h, `guess-${i}`)).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      const r = await fetchPage(`${h.url}/tasks?status=running`, {
        headers: { authorization: `Bearer guess-${i}` },
      });
      expect(r.status).toBe(401);
    }
    const limited = await login(h, TOKEN_A);
    expect(limited.status).toBe(429);
    expect(limited.text).toContain('Too many failed sign-in attempts');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('set-cookie')).toBeNull();
    const json = await fetchPage(`${h.url}/tasks?status=running`, {
      headers: { authorization: `Bearer ${TOKEN_A}` },
    });
    expect(json.status).toBe(429);
    expect(await h.metrics.registry.metrics()).toMatch(
      /zego_admin_auth_failures_total\{reason="rate_limited"\} [1-9]/,
    );
  });

  it('never redirects off the console after sign-in', async () => {
    for (const next of [
      '//evil.example/',
      'https://evil.example/',
      '/console//evil.example',
      '/tasks',
      '/console\\@evil',
    ]) {
      const page = await login(h, TOKEN_A, { next });
      expect([next, page.headers.get('location')]).toEqual([next, '/console']);
    }
  });
});

describe('console session', () => {
  it('a forged cookie is refused (401, counted, cleared)', async () => {
    const real = cookieOf(await login(h, TOKEN_A));
    const [issued, mac] = real.slice('zt_console='.length).split('.');
    for (const forged of [
      `${Number(issued) + 1}.${mac}`,
      `${issued}.${mac.slice(0, -2)}AA`,
      `${issued}.${sessionValue('not-a-token', Number(issued)).split('.')[1]}`,
      TOKEN_A,
      'garbage',
    ]) {
      const page = await fetchPage(`${h.url}/console`, { headers: { cookie: `zt_console=${forged}` } });
      expect([forged, page.status]).toEqual([forged, 401]);
      expect(page.text).toContain('sign in again');
      expect(page.headers.get('set-cookie')).toMatch(/^zt_console=; .*Max-Age=0/);
    }
    expect(await h.metrics.registry.metrics()).toContain(
      'zego_admin_auth_failures_total{reason="invalid"} 5',
    );
  });

  it('a session is accepted for 12 hours at most', async () => {
    const cookie = cookieOf(await login(h, TOKEN_A));
    h.clock.now += SESSION_MAX_AGE_MS - 60_000;
    expect((await fetchPage(`${h.url}/console`, { headers: { cookie } })).status).toBe(200);
    h.clock.now += 120_000;
    const page = await fetchPage(`${h.url}/console`, { headers: { cookie } });
    expect(page.status).toBe(401);
    expect(page.text).toContain('Your session has ended');
    expect(await h.metrics.registry.metrics()).toContain(
      'zego_admin_auth_failures_total{reason="expired"} 1',
    );
  });

  it('removing a token from ADMIN_TOKEN ends the sessions it opened', async () => {
    const fromA = cookieOf(await login(h, TOKEN_A));
    const fromB = cookieOf(await login(h, TOKEN_B));
    const rotated = await start({ adminTokens: [TOKEN_B] });
    try {
      expect((await fetchPage(`${rotated.url}/console`, { headers: { cookie: fromA } })).status).toBe(401);
      expect((await fetchPage(`${rotated.url}/console`, { headers: { cookie: fromB } })).status).toBe(200);
    } finally {
      await rotated.close();
    }
  });

  it('the JSON API does not take the cookie: it stays bearer-only', async () => {
    const cookie = cookieOf(await login(h, TOKEN_A));
    for (const path of [
      '/tasks?status=running',
      '/usage?appId=111&from=2023-11-01&to=2023-12-01',
      '/metrics',
    ]) {
      expect((await fetchPage(`${h.url}${path}`, { headers: { cookie } })).status).toBe(401);
    }
  });

  it('console pages take a bearer token too (scripts), each rotated one', async () => {
    for (const token of [TOKEN_A, TOKEN_B]) {
      const page = await fetchPage(`${h.url}/console/apps/111/tasks/t1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(page.status).toBe(200);
      // No cookie, so no sign-out form.
      expect(page.text).not.toContain('Sign out');
    }
    const wrong = await fetchPage(`${h.url}/console`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
  });

  it('POSTs with the cookie need the CSRF token; sign-out clears the cookie', async () => {
    const cookie = cookieOf(await login(h, TOKEN_A));
    const inbox = await fetchPage(`${h.url}/console/inbox`, { headers: { cookie } });
    const csrf = csrfOf(inbox.text);
    const post = (path: string, body: Record<string, string>) =>
      fetchPage(`${h.url}${path}`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body).toString(),
      });
    expect((await post('/console/inbox/7/redeliver', {})).status).toBe(403);
    expect((await post('/console/inbox/7/redeliver', { csrf: csrf.slice(1) })).status).toBe(403);
    expect(h.redelivered).toEqual([]);
    const done = await post('/console/inbox/7/redeliver', { csrf, back: '/console/inbox?status=rejected' });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/console/inbox?status=rejected&done=one&n=7');
    const all = await post('/console/inbox/redeliver-rejected', {
      csrf,
      back: '/console/inbox?done=one&n=7',
    });
    expect(all.headers.get('location')).toBe('/console/inbox?done=all&n=1');
    expect(h.redelivered).toEqual(['7', 'all']);
    const after = await fetchPage(`${h.url}${all.headers.get('location')}`, { headers: { cookie } });
    expect(after.text).toContain('1 rejected callbacks handed back to the relay.');

    expect((await post('/console/logout', {})).status).toBe(403);
    const out = await post('/console/logout', { csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^zt_console=; Path=\/console; .*Max-Age=0/);
  });

  it('the CSRF token is bound to the session and the token', () => {
    const now = Date.now();
    const a = verifySession(sessionValue(TOKEN_A, now), [TOKEN_A, TOKEN_B], now);
    const b = verifySession(sessionValue(TOKEN_B, now), [TOKEN_A, TOKEN_B], now);
    const later = verifySession(sessionValue(TOKEN_A, now + 1), [TOKEN_A], now);
    if (!a.ok || !b.ok || !later.ok) throw new Error('sessions should verify');
    expect(csrfToken(a.session)).not.toBe(csrfToken(b.session));
    expect(csrfToken(a.session)).not.toBe(csrfToken(later.session));
  });

  it('without ADMIN_TOKEN the console does not exist (404)', async () => {
    const off = await start({ adminTokens: [] });
    try {
      expect((await fetchPage(`${off.url}/console`)).status).toBe(404);
      expect((await login(off, TOKEN_A)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('console pages', () => {
  async function signedIn(): Promise<Record<string, string>> {
    return { cookie: cookieOf(await login(h, TOKEN_A)) };
  }

  it('renders attacker-chosen TaskIds inert, in lists, task pages and search', async () => {
    const headers = await signedIn();
    const pages = [
      await fetchPage(`${h.url}/console`, { headers }),
      await fetchPage(`${h.url}/console/apps/111/tasks/${encodeURIComponent(XSS_TASK)}`, { headers }),
      await fetchPage(`${h.url}/console?taskId=${encodeURIComponent(`${XSS_TASK}-unknown`)}`, { headers }),
      await fetchPage(`${h.url}/console/usage?appId=${encodeURIComponent(XSS_TASK)}`, { headers }),
    ];
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(page.text).not.toContain('<script');
      expect(page.text).not.toContain('<img');
      expect(page.text).toContain(escapeHtml(XSS_TASK));
    }
  });

  it('the task page: timeline with receivedAt beside Timestamp, segments, bill, masked URLs, Temporal UI link', async () => {
    const page = await fetchPage(`${h.url}/console/apps/111/tasks/t1`, { headers: await signedIn() });
    expect(page.status).toBe(200);
    expect(page.text).toContain('2023-11-14 22:13:20</time> <span class="muted mono">(1700000000)</span>');
    expect(page.text).toContain('2023-11-14 22:13:21');
    expect(page.text).toContain(
      'href="http://ui.example:8233/namespaces/default/workflows/zego-transcode%3A111%3At1/run-1/history"',
    );
    expect(page.text).toContain('rtmp://push.example.com/live/•••?auth=•••');
    expect(page.text).not.toContain('SECRET');
    expect(page.text).toMatch(
      /<td>hd<\/td><td class="num">600<\/td><td class="num">10<\/td><td class="num">0\.25<\/td>/,
    );
    expect(page.text).toContain('1280×720');
  });

  it('search by TaskId opens the task when one app has it; unknown tasks answer 404', async () => {
    const headers = await signedIn();
    const found = await fetchPage(`${h.url}/console?taskId=t1`, { headers });
    expect(found.status).toBe(303);
    expect(found.headers.get('location')).toBe('/console/apps/111/tasks/t1');
    expect((await fetchPage(`${h.url}/console/apps/111/tasks/none`, { headers })).status).toBe(404);
    expect((await fetchPage(`${h.url}/console?status=bogus`, { headers })).status).toBe(400);
  });

  it('the usage page: chart and totals from the usage reader', async () => {
    const page = await fetchPage(`${h.url}/console/usage?appId=111&from=2023-11-14&to=2023-11-15`, {
      headers: await signedIn(),
    });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<svg viewBox=');
    expect(page.text.match(/<rect /g)).toHaveLength(2);
    expect(page.text).toContain('<div class="value" id="total-minutes">11</div>');
    expect(page.text).toContain('<div class="value" id="total-cost">0.348</div>');
  });

  it('serves its stylesheet behind the session, cacheable for good', async () => {
    expect((await fetchPage(`${h.url}${STYLESHEET_PATH}`)).status).toBe(401);
    const css = await fetchPage(`${h.url}${STYLESHEET_PATH}`, { headers: await signedIn() });
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(css.headers.get('cache-control')).toContain('immutable');
  });
});

describe('console pieces', () => {
  it('masks stream keys: user info, query values, the last path segment unless it is the StreamId', () => {
    expect(maskStreamUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop')).toBe(
      'rtmp://a.rtmp.youtube.com/live2/•••',
    );
    expect(maskStreamUrl('rtmp://host:1935/app/stream1?key=s3cret&x=', 'stream1')).toBe(
      'rtmp://host:1935/app/stream1?key=•••&x=•••',
    );
    expect(maskStreamUrl('srt://user:pw@host:9000?streamid=publish/secret')).toBe(
      'srt://•••@host:9000?streamid=•••',
    );
    expect(maskStreamUrl('https://host/hls/index.m3u8#frag')).toBe('https://host/hls/•••#•••');
    expect(maskStreamUrl('rtmp://host')).toBe('rtmp://host');
    expect(maskStreamUrl('not a url with a secret')).toBe('•••');
    expect(maskStreamUrl('rtmp:secret')).toBe('rtmp:•••');
    expect(maskStreamUrl(undefined)).toBe('—');
  });

  it('escapes every interpolation, html output excepted', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p title="${`"x'`}">${inner}${['<', 1, null, false]}</p>`.text).toBe(
      '<p title="&quot;x&#39;"><b>&lt;i&gt;</b>&lt;1</p>',
    );
  });

  it('every text colour meets WCAG AA on its background (4.5:1; graphics 3:1)', () => {
    const luminance = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
      const lin = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const ratio = (a: string, b: string) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const failing = CONTRAST_PAIRS.filter((p) => ratio(p.fg, p.bg) < p.min).map(
      (p) => `${p.name}: ${ratio(p.fg, p.bg).toFixed(2)} < ${p.min}`,
    );
    expect(failing).toEqual([]);
  });

  it('chart scale: round steps, bars stacked per day', () => {
    expect([niceStep(0), niceStep(7), niceStep(40), niceStep(0.3), niceStep(1234)]).toEqual([
      1, 2, 10, 0.1, 500,
    ]);
    const svg = usageChart({
      days: ['2023-11-14', '2023-11-15', '2023-11-16'],
      rows: [
        { group: '2023-11-14', tier: 'hd', seconds: 600, minutes: 10, cost: 0.25, lifecycles: 1 },
        { group: '2023-11-14', tier: 'sd', seconds: 60, minutes: 1, cost: 0.012, lifecycles: 1 },
      ],
      metric: 'minutes',
      title: 't',
      description: 'd',
    }).text;
    expect(svg.match(/<rect /g)).toHaveLength(2);
    expect(svg).toContain('2023-11-14 · hd: 10 min, 0.25 CNY');
    expect(formatCost(0.000417)).toBe('0.000417');
    expect(formatCost(1234.5)).toBe('1,234.50');
  });
});
