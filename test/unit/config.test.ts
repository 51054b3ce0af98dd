import {
  ConfigError,
  DEFAULT_ZEGO_API_BASE_URL,
  lifecycleSettings,
  loadConfig,
  loadDevConfig,
  loadServerConfig,
  loadWorkerConfig,
  parseDuration,
  type Env,
} from '../../src/config';
import { parsePriceTable, ZEGO_LIST_PRICES } from '../../src/zego/billing';

const SERVER_ENV: Env = { ZEGO_CALLBACK_SECRET: 'secret-1' };

function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('ADMIN_TOKEN and the admin listener', () => {
  const TOKEN = 'a-long-enough-admin-token';

  it('splits on commas for rotation, never echoes a token, and refuses short or unprintable ones', () => {
    expect(
      loadServerConfig({ ...SERVER_ENV, ADMIN_TOKEN: `${TOKEN}, ${TOKEN}-2 ,${TOKEN}` }).adminTokens,
    ).toEqual([TOKEN, `${TOKEN}-2`]);
    for (const [value, reason] of [
      ['short-token', 'shorter than 16 characters'],
      [`${TOKEN},`, 'entry 2 of 2 is empty'],
      [`${TOKEN} with-space`, 'characters a bearer token cannot carry'],
      [`${TOKEN}\u00e9`, 'characters a bearer token cannot carry'],
    ]) {
      const err = configError(() => loadServerConfig({ ...SERVER_ENV, ADMIN_TOKEN: value }));
      expect(err.message).toContain('ADMIN_TOKEN: ');
      expect(err.message).toContain(reason);
      expect(err.message).not.toContain(TOKEN);
      expect(err.message.split('\n')).toHaveLength(1);
    }
  });

  it('dev generates one when unset, and keeps a given one', () => {
    const generated = loadDevConfig(
      {},
      { generateSecret: () => 's', generateAdminToken: () => `${TOKEN}-gen` },
    );
    expect(generated).toMatchObject({ adminTokens: [`${TOKEN}-gen`], generatedAdminToken: `${TOKEN}-gen` });
    expect(loadDevConfig({ ADMIN_TOKEN: TOKEN }, { generateSecret: () => 's' })).toMatchObject({
      adminTokens: [TOKEN],
      generatedAdminToken: null,
    });
  });

  it('ADMIN_PORT opens a private listener unless ADMIN_HOST says otherwise', () => {
    expect(loadServerConfig({ ...SERVER_ENV, ADMIN_PORT: '3001' }).adminListener).toEqual({
      port: 3001,
      host: '127.0.0.1',
    });
    expect(
      loadServerConfig({ ...SERVER_ENV, ADMIN_PORT: '3001', ADMIN_HOST: '10.0.0.5' }).adminListener,
    ).toEqual({ port: 3001, host: '10.0.0.5' });
    expect(configError(() => loadServerConfig({ ...SERVER_ENV, ADMIN_PORT: '3000' })).message).toBe(
      'ADMIN_PORT: must differ from PORT (3000)',
    );
    expect(configError(() => loadServerConfig({ ...SERVER_ENV, ADMIN_HOST: '0.0.0.0' })).message).toBe(
      'ADMIN_HOST: needs ADMIN_PORT (the admin listener is off without it)',
    );
    expect(configError(() => loadServerConfig({ ...SERVER_ENV, ADMIN_PORT: 'x' })).message).toBe(
      'ADMIN_PORT: "x" is not a port number (0–65535)',
    );
  });

  it('TEMPORAL_UI_URL must be an http(s) URL; a trailing slash is dropped', () => {
    expect(loadServerConfig({ ...SERVER_ENV, TEMPORAL_UI_URL: 'http://ui.local:8233/' }).temporalUiUrl).toBe(
      'http://ui.local:8233',
    );
    expect(
      configError(() => loadServerConfig({ ...SERVER_ENV, TEMPORAL_UI_URL: 'ftp://x' })).message,
    ).toContain('TEMPORAL_UI_URL: ');
  });
});

describe('config defaults', () => {
  it('server: contract defaults with only the secret set', () => {
    const c = loadServerConfig(SERVER_ENV);
    expect(c).toEqual({
      role: 'server',
      port: 3000,
      host: '0.0.0.0',
      callbackSecrets: ['secret-1'],
      callbackMaxSkewMs: 5 * 60_000,
      handoffTimeoutMs: 5_000,
      shutdownDelayMs: 0,
      taskQueue: 'zego-transcoding',
      databaseUrl: undefined,
      dataDir: './.data',
      logLevel: 'info',
      lingerMs: 5 * 60_000,
      orphanGraceMs: 10 * 60_000,
      maxTaskDurationMs: 24 * 3_600_000,
      continueAsNewAfterEvents: 2000,
      staleStopGraceMs: 120_000,
      sequenceGapGraceMs: 90_000,
      adminTokens: [],
      adminListener: undefined,
      temporalUiUrl: undefined,
      callbackRetentionMs: 7 * 86_400_000,
      callbackBacklogAlertAfterMs: 5 * 60_000,
      relayConcurrency: 32,
      alertWebhookUrl: undefined,
      staleStopHorizonMs: 7 * 86_400_000,
    });
  });

  it('worker: contract defaults from an empty environment', () => {
    const c = loadWorkerConfig({});
    expect(c).toEqual({
      role: 'worker',
      taskQueue: 'zego-transcoding',
      databaseUrl: undefined,
      dataDir: './.data',
      logLevel: 'info',
      lingerMs: 300_000,
      orphanGraceMs: 600_000,
      maxTaskDurationMs: 86_400_000,
      continueAsNewAfterEvents: 2000,
      staleStopGraceMs: 120_000,
      sequenceGapGraceMs: 90_000,
      staleStopHorizonMs: 7 * 86_400_000,
      alertWebhookUrl: undefined,
      taskFinishedWebhookUrl: undefined,
      maxCachedWorkflows: 300,
      zegoApi: null,
      billing: { prices: { ...ZEGO_LIST_PRICES }, unknownResolutionTier: 'hd' },
    });
  });

  it('dev: generates a callback secret when none is set, and says so', () => {
    const c = loadDevConfig({}, { generateSecret: () => 'generated' });
    expect(c.role).toBe('dev');
    expect(c.callbackSecrets).toEqual(['generated']);
    expect(c.generatedCallbackSecret).toBe('generated');
    expect(c.port).toBe(3000);
    expect(c.lingerMs).toBe(300_000);
    expect(c.billing.unknownResolutionTier).toBe('hd');
  });

  it('dev: the embedded dev server ports, and the data directory handed to the generators', () => {
    const seen: string[] = [];
    const c = loadDevConfig(
      { DATA_DIR: ' /var/lib/zego ', TEMPORAL_DEV_PORT: '17233' },
      {
        generateSecret: (dir) => (seen.push(dir), 'secret'),
        generateAdminToken: (dir) => (seen.push(dir), 'token'.repeat(4)),
      },
    );
    expect(seen).toEqual(['/var/lib/zego', '/var/lib/zego']);
    expect(c.temporalDevPort).toBe(17233);
    expect(c.temporalDevUiPort).toBe(8233);
    expect(loadDevConfig({}).temporalDevPort).toBe(7233);
  });

  it('dev: the default generator makes a fresh random secret each time', () => {
    const a = loadDevConfig({}).generatedCallbackSecret;
    const b = loadDevConfig({}).generatedCallbackSecret;
    expect(a).toMatch(/^[A-Za-z0-9_-]{24,}$/);
    expect(a).not.toBe(b);
  });

  it('dev: uses ZEGO_CALLBACK_SECRET when set', () => {
    const c = loadDevConfig({ ZEGO_CALLBACK_SECRET: 'mine' });
    expect(c.callbackSecrets).toEqual(['mine']);
    expect(c.generatedCallbackSecret).toBeNull();
  });

  it('blank values count as unset', () => {
    const c = loadServerConfig({ ...SERVER_ENV, PORT: '', LIFECYCLE_LINGER: '  ', DATABASE_URL: '' });
    expect(c.port).toBe(3000);
    expect(c.lingerMs).toBe(300_000);
    expect(c.databaseUrl).toBeUndefined();
  });

  it('loadConfig dispatches on the role', () => {
    expect(loadConfig(SERVER_ENV, 'server').role).toBe('server');
    expect(loadConfig({}, 'worker').role).toBe('worker');
    expect(loadConfig({}, 'dev').role).toBe('dev');
  });
});

describe('config values', () => {
  it('reads every variable', () => {
    const c = loadDevConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      ZEGO_CALLBACK_SECRET: 'a,b',
      ZEGO_CALLBACK_MAX_SKEW: '10m',
      TEMPORAL_TASK_QUEUE: 'q1',
      DATABASE_URL: 'postgresql://u:p@db:5432/zego',
      DATA_DIR: '/var/lib/zego',
      LIFECYCLE_LINGER: '90s',
      ORPHAN_STOP_GRACE: '15m',
      MAX_TASK_DURATION: '48h',
      ALERT_WEBHOOK_URL: 'https://alerts.example.com/hook',
      ZEGO_APP_ID: '1234567890',
      ZEGO_SERVER_SECRET: 'server-secret',
      ZEGO_API_BASE_URL: 'https://rtc-api-sgp.zego.im',
      HANDOFF_TIMEOUT: '3s',
      BILLING_UNKNOWN_RESOLUTION_TIER: 'FHD',
      LOG_LEVEL: 'debug',
      CONTINUE_AS_NEW_AFTER_EVENTS: '500',
    });
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      callbackSecrets: ['a', 'b'],
      callbackMaxSkewMs: 600_000,
      taskQueue: 'q1',
      databaseUrl: 'postgresql://u:p@db:5432/zego',
      dataDir: '/var/lib/zego',
      lingerMs: 90_000,
      orphanGraceMs: 900_000,
      maxTaskDurationMs: 172_800_000,
      alertWebhookUrl: 'https://alerts.example.com/hook',
      zegoApi: { appId: '1234567890', serverSecret: 'server-secret', baseUrl: 'https://rtc-api-sgp.zego.im' },
      handoffTimeoutMs: 3000,
      billing: { unknownResolutionTier: 'fhd' },
      logLevel: 'debug',
      continueAsNewAfterEvents: 500,
      generatedCallbackSecret: null,
    });
  });

  it('accepts postgres:// as well as postgresql://', () => {
    expect(loadWorkerConfig({ DATABASE_URL: 'postgres://localhost/x' }).databaseUrl).toBe(
      'postgres://localhost/x',
    );
  });

  it('ZEGO API base URL defaults to the public host when credentials are set', () => {
    const c = loadWorkerConfig({ ZEGO_APP_ID: '42', ZEGO_SERVER_SECRET: 's' });
    expect(c.zegoApi).toEqual({ appId: '42', serverSecret: 's', baseUrl: DEFAULT_ZEGO_API_BASE_URL });
    expect(DEFAULT_ZEGO_API_BASE_URL).toBe('https://rtc-api.zego.im');
  });

  it('BILLING_PRICES overrides part of the price table through parsePriceTable', () => {
    const json = '{"hd": 99}';
    const c = loadWorkerConfig({ BILLING_PRICES: json });
    expect(c.billing.prices).toEqual(parsePriceTable(json));
    expect(c.billing.prices.hd).toBe(99);
  });

  it('lifecycleSettings maps onto the workflow settings', () => {
    expect(
      lifecycleSettings(
        loadWorkerConfig({
          ORPHAN_STOP_GRACE: '1m',
          CONTINUE_AS_NEW_AFTER_EVENTS: '300',
          STALE_STOP_GRACE: '90s',
          SEQUENCE_GAP_GRACE: '0s',
          STALE_STOP_HORIZON: '30d',
        }),
      ),
    ).toEqual({
      lingerMs: 300_000,
      orphanGraceMs: 60_000,
      maxTaskDurationMs: 86_400_000,
      continueAsNewAfterEvents: 300,
      staleStopGraceMs: 90_000,
      sequenceGapGraceMs: 0,
      staleStopHorizonMs: 30 * 86_400_000,
    });
    expect(lifecycleSettings(loadServerConfig({ ...SERVER_ENV, LIFECYCLE_LINGER: '2s' })).lingerMs).toBe(
      2000,
    );
  });
});

describe('callback secrets', () => {
  it('splits on commas, trims, drops repeats, keeps order', () => {
    expect(loadServerConfig({ ZEGO_CALLBACK_SECRET: ' new , old ,new' }).callbackSecrets).toEqual([
      'new',
      'old',
    ]);
  });

  it.each([['a,,b'], ['a,'], [',a'], [' , ']])(
    'rejects an empty entry in %j without echoing secrets',
    (value) => {
      const err = configError(() => loadServerConfig({ ZEGO_CALLBACK_SECRET: value }));
      expect(err.message).toMatch(/^ZEGO_CALLBACK_SECRET: /);
      expect(err.message).not.toContain('\n');
    },
  );

  it('is required by the server', () => {
    for (const env of [{}, { ZEGO_CALLBACK_SECRET: '' }, { ZEGO_CALLBACK_SECRET: '   ' }]) {
      const err = configError(() => loadServerConfig(env));
      expect(err.message).toMatch(/^ZEGO_CALLBACK_SECRET: is required/);
    }
  });

  it('never appears in an error message', () => {
    const err = configError(() => loadServerConfig({ ZEGO_CALLBACK_SECRET: 'topsecret,,x' }));
    expect(err.message).not.toContain('topsecret');
  });

  it('is not read by the worker', () => {
    expect(loadWorkerConfig({ ZEGO_CALLBACK_SECRET: 'a,,b' })).not.toHaveProperty('callbackSecrets');
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['10m', 600_000],
    ['24h', 86_400_000],
    ['1.5s', 1500],
    ['2 days', 172_800_000],
    ['2500', 2500],
  ])('%s = %d ms', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
    expect(loadWorkerConfig({ LIFECYCLE_LINGER: text }).lingerMs).toBe(expected);
  });

  it.each([['10 parsecs'], ['abc'], ['5 m s'], ['1e400'], ['m'], ['x'.repeat(200)]])(
    '%j is not a duration',
    (text) => {
      const err = configError(() => loadWorkerConfig({ LIFECYCLE_LINGER: text }));
      expect(err.message).toMatch(/^LIFECYCLE_LINGER: ".*" is not a duration \(use 500ms, 90s, 10m, 24h\)$/);
      expect(err.message.length).toBeLessThan(200);
    },
  );

  it('gives the example message verbatim', () => {
    expect(configError(() => loadWorkerConfig({ LIFECYCLE_LINGER: '10 parsecs' })).message).toBe(
      'LIFECYCLE_LINGER: "10 parsecs" is not a duration (use 500ms, 90s, 10m, 24h)',
    );
  });

  it.each([['0'], ['0s'], ['-5m'], ['0.1ms']])('%j is not positive', (text) => {
    const err = configError(() => loadWorkerConfig({ MAX_TASK_DURATION: text }));
    expect(err.message).toMatch(/^MAX_TASK_DURATION: ".*" must be a positive duration/);
  });

  it('STALE_STOP_HORIZON may be 0 (no wait) or longer than a Node timer, but not negative', () => {
    expect(loadWorkerConfig({ STALE_STOP_HORIZON: '0s' }).staleStopHorizonMs).toBe(0);
    expect(loadWorkerConfig({ STALE_STOP_HORIZON: '30d' }).staleStopHorizonMs).toBe(30 * 86_400_000);
    const err = configError(() => loadWorkerConfig({ STALE_STOP_HORIZON: '-1d' }));
    expect(err.message).toMatch(/^STALE_STOP_HORIZON: "-1d" must be a positive duration/);
  });

  it('HANDOFF_TIMEOUT must fit a timer', () => {
    const err = configError(() => loadServerConfig({ ...SERVER_ENV, HANDOFF_TIMEOUT: '30d' }));
    expect(err.message).toMatch(/^HANDOFF_TIMEOUT: "30d" is too long/);
  });

  it('ZEGO_CALLBACK_MAX_SKEW of under a second is refused', () => {
    const err = configError(() => loadServerConfig({ ...SERVER_ENV, ZEGO_CALLBACK_MAX_SKEW: '200ms' }));
    expect(err.message).toMatch(/^ZEGO_CALLBACK_MAX_SKEW: /);
  });
});

describe('bad values: one line naming the variable', () => {
  const cases: [variable: string, value: string, load: (env: Env) => unknown][] = [
    ['PORT', 'eighty', loadServerConfig],
    ['PORT', '70000', loadServerConfig],
    ['PORT', '-1', loadServerConfig],
    ['ZEGO_CALLBACK_MAX_SKEW', 'soon', loadServerConfig],
    ['HANDOFF_TIMEOUT', '5 fortnights', loadServerConfig],
    ['TEMPORAL_TASK_QUEUE', 'q'.repeat(201), loadWorkerConfig],
    ['DATABASE_URL', 'mysql://user:pw@host/db', loadWorkerConfig],
    ['DATABASE_URL', 'not a url', loadServerConfig],
    ['LIFECYCLE_LINGER', 'forever', loadWorkerConfig],
    ['ORPHAN_STOP_GRACE', '-10m', loadWorkerConfig],
    ['MAX_TASK_DURATION', 'one day', loadDevConfig],
    ['ALERT_WEBHOOK_URL', 'ftp://alerts.example.com', loadWorkerConfig],
    ['ALERT_WEBHOOK_URL', 'alerts.example.com/hook', loadWorkerConfig],
    ['ZEGO_APP_ID', 'abc', loadWorkerConfig],
    ['ZEGO_API_BASE_URL', 'rtc-api.zego.im', loadWorkerConfig],
    ['BILLING_PRICES', '{not json', loadWorkerConfig],
    ['BILLING_UNKNOWN_RESOLUTION_TIER', '4k', loadWorkerConfig],
    ['LOG_LEVEL', 'loud', loadServerConfig],
    ['CONTINUE_AS_NEW_AFTER_EVENTS', '12.5', loadWorkerConfig],
    ['CONTINUE_AS_NEW_AFTER_EVENTS', '0', loadWorkerConfig],
    ['SEQUENCE_GAP_GRACE', 'a minute', loadServerConfig],
    ['WORKER_MAX_CACHED_WORKFLOWS', '0', loadWorkerConfig],
    ['WORKER_MAX_CACHED_WORKFLOWS', 'many', loadDevConfig],
    ['TEMPORAL_DEV_PORT', '0', loadDevConfig],
    ['TEMPORAL_DEV_PORT', '7233x', loadDevConfig],
    ['TEMPORAL_DEV_UI_PORT', '65536', loadDevConfig],
  ];

  it.each(cases)('%s=%j', (variable, value, load) => {
    const env: Env = { ...SERVER_ENV, ZEGO_APP_ID: '1', ZEGO_SERVER_SECRET: 's', [variable]: value };
    const err = configError(() => load(env));
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).not.toMatch(/[\r\n]/);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0].variable).toBe(variable);
  });

  it('credentials in URLs are never echoed', () => {
    const db = configError(() => loadWorkerConfig({ DATABASE_URL: 'mysql://user:hunter2@host/db' }));
    expect(db.message).not.toContain('hunter2');
    expect(db.message).toMatch(/postgres:\/\/ or postgresql:\/\//);
    const hook = configError(() => loadWorkerConfig({ ALERT_WEBHOOK_URL: 'ftp://x/token-abc' }));
    expect(hook.message).not.toContain('token-abc');
  });

  it('ZEGO_APP_ID and ZEGO_SERVER_SECRET go together', () => {
    expect(configError(() => loadWorkerConfig({ ZEGO_APP_ID: '1' })).message).toBe(
      'ZEGO_SERVER_SECRET: is required when ZEGO_APP_ID is set',
    );
    expect(configError(() => loadWorkerConfig({ ZEGO_SERVER_SECRET: 'shh' })).message).toBe(
      'ZEGO_APP_ID: is required when ZEGO_SERVER_SECRET is set',
    );
  });

  it('several bad variables: all of them on one line, in table order', () => {
    const err = configError(() =>
      loadDevConfig({
        LOG_LEVEL: 'loud',
        PORT: 'x',
        LIFECYCLE_LINGER: '10 parsecs',
        DATABASE_URL: 'http://h',
      }),
    );
    expect(err.problems.map((p) => p.variable)).toEqual([
      'PORT',
      'DATABASE_URL',
      'LOG_LEVEL',
      'LIFECYCLE_LINGER',
    ]);
    expect(err.message).not.toMatch(/[\r\n]/);
    expect(err.message).toMatch(/^PORT: .*; DATABASE_URL: .*; LOG_LEVEL: .*; LIFECYCLE_LINGER: /);
    expect(err.name).toBe('ConfigError');
  });

  it('each role reads only its own variables', () => {
    expect(() => loadWorkerConfig({ PORT: 'nope', HANDOFF_TIMEOUT: 'nope' })).not.toThrow();
    expect(() =>
      loadServerConfig({ ...SERVER_ENV, BILLING_PRICES: '{nope', WORKER_MAX_CACHED_WORKFLOWS: 'nope' }),
    ).not.toThrow();
    // The server raises alerts of its own (callback_rejected, callback_backlog): it reads this one.
    expect(() => loadServerConfig({ ...SERVER_ENV, ALERT_WEBHOOK_URL: 'nope' })).toThrow(/ALERT_WEBHOOK_URL/);
  });
});
