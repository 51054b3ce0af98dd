/**
 * Fuzzing the RUNNING endpoint with fast-check: POST /zego/callback of the whole service (HTTP server
 * and worker against the real Temporal dev server and PostgreSQL), over loopback.
 *
 * Phase 1, FUZZ_RUNS (default 10,000) requests none of which is correctly signed: arbitrary bytes,
 * JSON values, near-valid ZEGO callbacks with one field mutated and the signature broken one way or
 * another, validly signed callbacks whose body was tampered with after their nonce was bound, wrong
 * content types and encodings, bodies under and over 64 KiB, deeply nested bodies, random extra
 * headers. Every answer must be a JSON 400/401/413, and nothing may change: no workflow started
 * (visibility on the service's task queue, and describe of a sample of the fuzzed TaskIds), the
 * nonce bindings, the ledger, the registry and the alerts exactly as before, the control lifecycles'
 * documents untouched.
 *
 * Phase 2, FUZZ_RUNS / 10 correctly signed callbacks with one field mutated: these may legitimately
 * be accepted (200) or refused (400); never a 5xx. Afterwards the server still serves a genuine
 * callback. `FUZZ_RUNS=100000 npx jest test/integration/fuzz.test.ts --selectProjects integration`
 * for a long run.
 */
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { WorkflowNotFoundError } from '@temporalio/client';
import { stringify } from 'lossless-json';
import { lifecycleWorkflowId } from '../../workflows/definitions';
import { startTestService, type TestService } from '../helpers/service';
import {
  encodeCallback,
  TEST_CALLBACK_SECRET,
  transcodeStart,
  transcodeStop,
  type BodyForm,
  type ZegoCallbackBody,
} from '../../tools/callbacks/signed-callback';

const RUNS = Math.max(100, Number(process.env.FUZZ_RUNS ?? 10_000));
const BATCH = 20;
const LIMIT = 64 * 1024;
const APP = '424242';
const FUZZ_PREFIX = 'fz-u-';

interface Req {
  kind: string;
  body: Buffer;
  headers: Record<string, string>;
  /** The fuzzed TaskId, when the body has one (for the describe sample). */
  taskId?: string;
}

interface Res {
  status: number;
  contentType: string;
  text: string;
}

let svc: TestService;
let agent: http.Agent;
let url: URL;

function send(req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...req.headers, 'content-length': String(req.body.length) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.once('error', reject);
      },
    );
    r.once('timeout', () => r.destroy(new Error('timeout')));
    r.once('error', reject);
    r.end(req.body);
  });
}

// ---------------------------------------------------------------------------------------------
// Generators

const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'text/plain',
  'text/html',
  'application/octet-stream',
  'multipart/form-data; boundary=xyz',
  'application/json; charset=utf-16',
  'application/xml',
  '*/*',
  'garbage',
  '',
);
const forms = fc.constantFrom<BodyForm>('json', 'urlencoded-json', 'form', 'form-lowercase');

/** Extra request headers: names and values a client might send, printable ASCII. */
const extraHeaders = fc.dictionary(
  fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
  fc.stringMatching(/^[!-~][ -~]{0,60}$/),
  { maxKeys: 4 },
);
const requestIds = fc.option(fc.stringMatching(/^[ -~]{0,200}$/), { nil: undefined });

function withHeaders(kind: string, body: Buffer, contentType: string | undefined, taskId?: string) {
  return fc.tuple(extraHeaders, requestIds).map(([extra, rid]): Req => {
    const headers: Record<string, string> = { ...extra };
    if (contentType) headers['content-type'] = contentType;
    if (rid !== undefined && rid.trim() !== '') headers['x-request-id'] = rid.trim();
    return { kind, body, headers, taskId };
  });
}

const anyValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }),
);

const FIELDS = ['Event', 'Appid', 'TaskId', 'UserId', 'Sequence', 'Status', 'StopReason', 'Details', 'Extra'];

/** A fresh callback of a fuzzed task, correctly signed (the caller breaks it or not). */
const freshCallback = fc
  .tuple(fc.boolean(), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 5 }))
  .map(([start, n, seq]) => {
    const taskId = `${FUZZ_PREFIX}${n}`;
    const overrides = { Appid: APP, TaskId: taskId, Sequence: seq };
    return start ? transcodeStart(overrides) : transcodeStop(overrides);
  });

/** One field of the callback replaced (or removed, or added). */
function mutateOne(cb: ZegoCallbackBody) {
  return fc
    .tuple(fc.constantFrom(...FIELDS), fc.option(anyValue, { nil: undefined }), fc.boolean())
    .map(([field, value, nested]) => {
      const out: ZegoCallbackBody = { ...cb };
      if (nested && field === 'Details' && typeof cb.Details === 'object') {
        const details = JSON.parse(JSON.stringify(cb.Details)) as { Outputs?: Record<string, unknown>[] };
        if (details.Outputs?.[0]) details.Outputs[0].Width = value as unknown;
        out.Details = details;
      } else if (value === undefined) delete out[field];
      else out[field] = value;
      return out;
    });
}

function flipHex(sig: string, at: number): string {
  const i = at % sig.length;
  const c = sig[i];
  const next = c === '0' ? '1' : '0';
  return sig.slice(0, i) + next + sig.slice(i + 1);
}

/** Ways to make a signed callback not (validly) signed; each yields a body that must be refused. */
function breakSignature(cb: ZegoCallbackBody) {
  const ts = String(cb.Timestamp);
  const nonce = String(cb.Nonce);
  const sig = String(cb.Signature);
  return fc.oneof(
    fc.constant({ ...cb, Signature: undefined }),
    fc.stringMatching(/^[0-9a-f]{40}$/).map((s) => ({ ...cb, Signature: s === sig ? flipHex(s, 0) : s })),
    fc.nat().map((at) => ({ ...cb, Signature: flipHex(sig, at) })),
    anyValue.map((v) => ({ ...cb, Signature: v === sig ? null : v })),
    fc.integer({ min: 1, max: 1_000_000 }).map((d) => ({ ...cb, Timestamp: String(Number(ts) + d) })),
    fc.integer({ min: 1, max: 1_000_000 }).map((d) => ({ ...cb, Timestamp: String(Number(ts) - d) })),
    fc.constant({ ...cb, Timestamp: undefined }),
    fc.constant({ ...cb, Nonce: undefined }),
    fc.stringMatching(/^\d{1,19}$/).map((n) => ({ ...cb, Nonce: n === nonce ? `${n}1` : n })),
    anyValue.map((v) => ({ ...cb, Timestamp: typeof v === 'string' && v === ts ? 'x' : v })),
    // Signed by someone else's secret, or correctly signed but far outside the skew window (1 h).
    fc.constant(reSign(cb, 'not-the-secret', ts)),
    fc
      .integer({ min: 2 * 3600, max: 10 * 365 * 86400 })
      .map((d) => reSign(cb, TEST_CALLBACK_SECRET, String(Number(ts) - d))),
    fc
      .integer({ min: 2 * 3600, max: 86400 })
      .map((d) => reSign(cb, TEST_CALLBACK_SECRET, String(Number(ts) + d))),
    // A second, differently cased Signature key, neither of them right.
    fc
      .stringMatching(/^[0-9a-f]{40}$/)
      .map((s) => ({ ...cb, Signature: flipHex(sig, 3), signature: s === sig ? flipHex(s, 5) : s })),
  );
}

function reSign(cb: ZegoCallbackBody, secret: string, timestamp: string): ZegoCallbackBody {
  const base = cb.Event === 'transcode_stop' ? transcodeStop : transcodeStart;
  const signed = base({}, { secret, timestamp, nonce: String(cb.Nonce) });
  return { ...cb, Timestamp: signed.Timestamp, Signature: signed.Signature };
}

const arbitraryBytes = fc
  .tuple(fc.uint8Array({ maxLength: 2048 }), fc.option(contentTypes, { nil: undefined }))
  .chain(([bytes, ct]) => withHeaders('bytes', Buffer.from(bytes), ct));

const jsonValues = fc
  .tuple(fc.jsonValue({ maxDepth: 6 }), contentTypes)
  .chain(([v, ct]) => withHeaders('json', Buffer.from(JSON.stringify(v) ?? 'null'), ct));

const nearValidUnsigned = fc.tuple(freshCallback, fc.boolean(), forms).chain(([cb, mutate, form]) =>
  (mutate ? mutateOne(cb) : fc.constant(cb)).chain((m) =>
    breakSignature(m).chain((broken) => {
      const enc = encodeCallback(broken, form);
      return withHeaders('near-valid', Buffer.from(enc.body), enc.contentType, String(cb.TaskId));
    }),
  ),
);

/** The control callbacks (validly signed, already delivered) with a meaningful field changed. */
let controls: ZegoCallbackBody[] = [];
const tampered = fc
  .tuple(
    fc.nat(),
    fc.constantFrom('TaskId', 'Appid', 'UserId', 'Sequence', 'Status', 'Event', 'Width'),
    fc.integer({ min: 1, max: 1000 }),
    forms,
  )
  .chain(([k, field, d, form]) => {
    const original = controls[k % controls.length];
    const cb: ZegoCallbackBody = JSON.parse(stringify(original) ?? '{}');
    if (field === 'TaskId') cb.TaskId = `${FUZZ_PREFIX}tampered-${d}`;
    else if (field === 'Appid') cb.Appid = String(Number(APP) + d);
    else if (field === 'UserId') cb.UserId = `someone-else-${d}`;
    else if (field === 'Sequence') cb.Sequence = Number(cb.Sequence) + d;
    else if (field === 'Status') cb.Status = 'TranscodeUpdated';
    else if (field === 'Event') cb.Event = 'transcode_stop';
    else (cb.Details as { Outputs: { Width: number }[] }).Outputs[0].Width += d;
    const enc = encodeCallback(cb, form);
    return withHeaders('tampered', Buffer.from(enc.body), enc.contentType, String(cb.TaskId));
  });

/** Mis-signed callbacks padded to around 64 KiB, deeply nested bodies, and encodings. */
const sized = fc
  .tuple(
    fc.constantFrom(LIMIT - 200, LIMIT - 1, LIMIT, LIMIT + 1, LIMIT + 100, 2 * LIMIT, 4 * LIMIT),
    fc.integer({ min: -50, max: 50 }),
    freshCallback,
  )
  .chain(([target, jitter, cb]) => {
    const head = stringify({ ...cb, Signature: flipHex(String(cb.Signature), 7), Pad: '' }) ?? '{}';
    const pad = Math.max(0, target + jitter - head.length);
    const body = head.replace('"Pad":""', `"Pad":"${'x'.repeat(pad)}"`);
    return withHeaders('sized', Buffer.from(body), 'application/json', String(cb.TaskId));
  });

const nested = fc
  .tuple(fc.integer({ min: 10, max: 120_000 }), fc.constantFrom('[', '{"a":'), contentTypes)
  .chain(([depth, open, ct]) => {
    const close = open === '[' ? ']' : '}';
    const body = open.repeat(depth) + (open === '[' ? '' : '1') + close.repeat(depth);
    return withHeaders('nested', Buffer.from(body), ct);
  });

const encoded = fc
  .tuple(
    freshCallback,
    fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-bogus', 'gzip-bomb', 'gzip-broken'),
  )
  .chain(([cb, encoding]) => {
    const body = Buffer.from(stringify({ ...cb, Signature: undefined }) ?? '{}');
    let bytes = body;
    let header = encoding;
    if (encoding === 'gzip') bytes = gzipSync(body);
    else if (encoding === 'gzip-bomb') {
      bytes = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20));
      header = 'gzip';
    } else if (encoding === 'gzip-broken') {
      bytes = Buffer.concat([gzipSync(body).subarray(0, 12), Buffer.from('not gzip')]);
      header = 'gzip';
    } else if (encoding === 'deflate') bytes = gzipSync(body).subarray(10); // not a valid zlib stream
    return withHeaders('encoded', bytes, 'application/json', String(cb.TaskId)).map((r) => ({
      ...r,
      headers: { ...r.headers, 'content-encoding': header },
    }));
  });

const unsignedCase: fc.Arbitrary<Req> = fc.oneof(
  { weight: 2, arbitrary: arbitraryBytes },
  { weight: 2, arbitrary: jsonValues },
  { weight: 5, arbitrary: nearValidUnsigned },
  { weight: 2, arbitrary: tampered },
  { weight: 1, arbitrary: sized },
  { weight: 1, arbitrary: nested },
  { weight: 1, arbitrary: encoded },
);

/** Correctly signed (fresh nonce), one field mutated: may be accepted or refused, never a 5xx. */
const signedCase: fc.Arbitrary<Req> = fc.tuple(freshCallback, forms).chain(([cb, form]) =>
  mutateOne({ ...cb, TaskId: `fz-s-${String(cb.TaskId).slice(FUZZ_PREFIX.length)}` }).chain((m) => {
    const enc = encodeCallback(m, form);
    return withHeaders('signed-mutated', Buffer.from(enc.body), enc.contentType);
  }),
);

// ---------------------------------------------------------------------------------------------

async function snapshot() {
  const q = async (sql: string) => (await svc.db.sql.query<Record<string, unknown>>(sql)).rows;
  return {
    nonces: await q('SELECT key, fingerprint, expires_at::text AS e FROM callback_nonces ORDER BY key'),
    ledger: await q('SELECT lifecycle_id FROM billing_ledger ORDER BY lifecycle_id'),
    registry: await q('SELECT app_id, task_id, lifecycle_id FROM active_tasks ORDER BY app_id, task_id'),
    alerts: await q('SELECT key FROM alerts ORDER BY key'),
  };
}

async function workflowsOnQueue(): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of svc.http.client.workflow.list({ query: `TaskQueue = '${svc.taskQueue}'` })) {
    ids.push(wf.workflowId);
    if (ids.length > 10_000) break;
  }
  return ids.sort();
}

function expectStatus(res: Res, allowed: number[], where: string): void {
  if (!allowed.includes(res.status)) {
    throw new Error(
      `answered ${res.status} (allowed ${allowed.join('/')}): ${res.text.slice(0, 300)}\n  request: ${where}`,
    );
  }
}

const statusTally = (results: { req: Req; res: Res }[], into: Record<string, number>) => {
  for (const { req, res } of results) {
    const key = `${req.kind} ${res.status}`;
    into[key] = (into[key] ?? 0) + 1;
  }
};

describe('fuzzing POST /zego/callback of the running service', () => {
  const fuzzedTaskIds = new Set<string>();
  const tally: Record<string, number> = {};

  beforeAll(async () => {
    svc = await startTestService({ database: 'postgres' });
    url = new URL(`${svc.url}/zego/callback`);
    agent = new http.Agent({ keepAlive: true, maxSockets: BATCH });
    // Control lifecycles: genuine callbacks whose (Timestamp, Nonce) are bound; the fuzzer tampers with them.
    controls = Array.from({ length: 6 }, (_, i) => transcodeStart({ Appid: APP, TaskId: `fz-control-${i}` }));
    for (const cb of controls) {
      const res = await svc.post(cb);
      expect(res.status).toBe(200);
    }
    for (const cb of controls) await svc.waitForTask(APP, String(cb.TaskId), (d) => d.status === 'running');
  });

  afterAll(async () => {
    agent?.destroy();
    await svc?.stop();
    process.stderr.write(`[fuzz] ${JSON.stringify(tally)}\n`);
  });

  it(`refuses ${RUNS} unsigned or mis-signed requests with a JSON 400/401/413 and changes nothing`, async () => {
    const before = await snapshot();
    const docsBefore = await Promise.all(
      controls.map((cb) => svc.get(`/apps/${APP}/tasks/${String(cb.TaskId)}`)),
    );
    const workflowsBefore = await workflowsOnQueue();
    expect(workflowsBefore).toEqual(controls.map((cb) => lifecycleWorkflowId(APP, String(cb.TaskId))).sort());

    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(unsignedCase, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
        const results = await Promise.all(cases.map(async (req) => ({ req, res: await send(req) })));
        sent += results.length;
        statusTally(results, tally);
        for (const { req, res } of results) {
          if (req.taskId?.startsWith(FUZZ_PREFIX)) fuzzedTaskIds.add(req.taskId);
          const where = `${req.kind} ${JSON.stringify(req.headers)} ${req.body.subarray(0, 300).toString('latin1')}`;
          expectStatus(res, [400, 401, 413], where);
          expect(res.contentType).toMatch(/^application\/json/);
          expect(JSON.parse(res.text)).toMatchObject({ ok: false });
        }
      }),
      { numRuns: Math.ceil(RUNS / BATCH), endOnFailure: false },
    );
    expect(sent).toBeGreaterThanOrEqual(RUNS);

    // Nothing changed.
    expect(await snapshot()).toEqual(before);
    expect(await workflowsOnQueue()).toEqual(workflowsBefore);
    const docsAfter = await Promise.all(
      controls.map((cb) => svc.get(`/apps/${APP}/tasks/${String(cb.TaskId)}`)),
    );
    expect(docsAfter.map((d) => d.json)).toEqual(docsBefore.map((d) => d.json));
    const sample = [...fuzzedTaskIds].slice(0, 50);
    expect(sample.length).toBeGreaterThan(0);
    for (const taskId of sample) {
      const handle = svc.http.client.workflow.getHandle(lifecycleWorkflowId(APP, taskId));
      await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    }
  }, 600_000);

  it(`answers ${Math.ceil(RUNS / 10)} signed callbacks with one field mutated without a 5xx, and still serves`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(signedCase, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
        const results = await Promise.all(cases.map(async (req) => ({ req, res: await send(req) })));
        statusTally(results, tally);
        for (const { req, res } of results) {
          const where = `${req.kind} ${req.body.subarray(0, 300).toString('latin1')}`;
          expectStatus(res, [200, 400, 401], where);
          expect(res.contentType).toMatch(/^application\/json/);
        }
      }),
      { numRuns: Math.ceil(RUNS / 10 / BATCH) },
    );
    expect((await svc.get('/healthz')).status).toBe(200);
    const genuine = await svc.post(transcodeStart({ Appid: APP, TaskId: 'fz-after' }));
    expect(genuine.status).toBe(200);
    // The worker may still be working through the lifecycles the fuzzed callbacks started: give it time.
    await svc.waitForTask(APP, 'fz-after', (d) => d.status === 'running', 180_000);
  }, 600_000);
});
