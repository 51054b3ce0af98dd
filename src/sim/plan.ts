/**
 * The simulation plan: every callback ZEGO would send for N transcoding task lifecycles, already signed
 * and encoded, in the order they are offered, with the faults ZEGO's delivery has in practice
 * (duplicates, re-signed duplicates, reordering, late redeliveries) and the ground truth of every task
 * (so the service's results can be checked against it). Deterministic for a seed and `nowMs`.
 */
import { signatureFields, type SignatureFields } from '../zego/sign';
import type { TranscodeEventName, TranscodeOutput } from '../zego/types';
import { encodeBody, BODY_ENCODINGS, type BodyEncoding, type EncodingChoice } from './encoding';
import { createRandom, type Random } from './random';

export interface PlanOptions {
  /** Any text; the same seed (and nowMs) gives the same plan. */
  seed: string;
  appId: string;
  /** CallbackSecret the callbacks are signed with. */
  secret: string;
  tasks: number;
  /** Each task gets 0..maxUpdates `TranscodeUpdated` callbacks. */
  maxUpdates: number;
  /** Simulated length of a task, seconds: each lasts between half of it and all of it. */
  durationSeconds: number;
  /** Share of tasks ZEGO stops after an exception (StopReason 1). */
  abnormalShare: number;
  /** Share of stops carrying ZEGO's documented buggy `Status: TranscodeStarted` (shared doc §2.2). */
  buggyStatusShare: number;
  /** Per callback: probability of one identical redelivery. */
  duplicateRate: number;
  /** Per callback: probability of one redelivery signed anew (new Timestamp, Nonce, Signature). */
  resignRate: number;
  /** Per task: probability that its stop, or an update, arrives before its start. */
  reorderRate: number;
  /** Per callback: probability of one identical redelivery after `lateDelayMs`. */
  lateRate: number;
  lateDelayMs: number;
  encoding: EncodingChoice;
  /** "Now" of the plan, epoch ms: the stops are stamped at (about) the time they will be sent. */
  nowMs: number;
  /** Planned offer rate, callbacks/s; when given, timestamps follow the paced send times. */
  ratePerSecond?: number;
  /** How many tasks have callbacks in flight at once in the offer order. Default 8. */
  interleave?: number;
  /** TaskId prefix. Default `sim-<seed>-`. */
  taskIdPrefix?: string;
}

export type LifecycleStep = 'start' | 'update' | 'stop';
export type CallbackKind = 'original' | 'duplicate' | 'resigned' | 'late';
export type Reorder = 'stop-first' | 'update-first';

/** A run of time with one set of outputs (opened by the start and by each update). */
export interface PlannedSegment {
  sequence: number;
  /** Unix seconds (the Timestamp of the start or update that opened it). */
  from: number;
  outputs: TranscodeOutput[];
}

/** A task's ground truth: what ZEGO did, whatever the delivery made of it. */
export interface PlannedTask {
  index: number;
  appId: string;
  taskId: string;
  userId: string;
  durationSeconds: number;
  /** Unix seconds of the start and of the stop. */
  startTimestamp: number;
  stopTimestamp: number;
  stopReason: 0 | 1;
  stopStatus: 'TranscodeStopped' | 'TranscodeStarted';
  reorder: Reorder | null;
  segments: PlannedSegment[];
}

export interface PlannedCallback {
  /** Position in the offer order (and index in Plan.callbacks). */
  id: number;
  taskIndex: number;
  kind: CallbackKind;
  /** The original this one repeats (its own id for an original). */
  originalId: number;
  step: LifecycleStep;
  event: TranscodeEventName;
  sequence: number;
  status: string;
  stopReason?: 0 | 1;
  /**
   * Offered only once the first attempt of this callback has finished: the previous callback of the
   * same task (ZEGO sends a task's events seconds or minutes apart, not all at once), or for a late
   * redelivery its original.
   */
  after?: number;
  /** Extra wait after `after` (late redeliveries). */
  delayMs: number;
  timestamp: string;
  nonce: string;
  signature: string;
  encoding: BodyEncoding;
  body: string;
  contentType: string;
}

export interface Plan {
  seed: string;
  nowMs: number;
  tasks: PlannedTask[];
  callbacks: PlannedCallback[];
}

/** Output resolutions the simulator uses, with the billing tier each falls in. */
export const RESOLUTIONS = [
  { name: '360p', Width: 640, Height: 360, tier: 'sd', bitrates: [400_000, 800_000] },
  { name: '720p', Width: 1280, Height: 720, tier: 'hd', bitrates: [1_200_000, 1_800_000] },
  { name: '1080p', Width: 1920, Height: 1080, tier: 'fhd', bitrates: [3_000_000, 4_000_000] },
] as const;

const EVENT_OF: Record<LifecycleStep, TranscodeEventName> = {
  start: 'transcode_start',
  update: 'transcode_start',
  stop: 'transcode_stop',
};

/** One callback of a task before it is placed, timed, signed and encoded. */
interface Draft {
  taskIndex: number;
  kind: CallbackKind;
  step: LifecycleStep;
  sequence: number;
  /** The original a redelivery repeats; null for an original. */
  original: Draft | null;
  delayMs: number;
  placed?: PlannedCallback;
}

interface TaskDraft {
  task: PlannedTask;
  /** Simulated offsets (seconds from the start) of the start and each update. */
  offsets: number[];
  outputs: TranscodeOutput[][];
  inputStreamId: string;
  /** Delivered one after another. */
  chain: Draft[];
  /** Delivered after a delay, outside the chain. */
  late: Draft[];
}

export function buildPlan(options: PlanOptions): Plan {
  const rnd = createRandom(options.seed);
  const prefix = options.taskIdPrefix ?? `sim-${options.seed.replace(/[^A-Za-z0-9_-]/g, '_')}-`;
  const drafts: TaskDraft[] = [];
  for (let i = 0; i < options.tasks; i++) drafts.push(draftTask(i, prefix, options, rnd));

  const order = interleave(drafts, options.interleave ?? 8, rnd);
  const callbacks = placeAndSign(order, drafts, options, rnd);
  return { seed: options.seed, nowMs: options.nowMs, tasks: drafts.map((d) => d.task), callbacks };
}

function draftTask(index: number, prefix: string, options: PlanOptions, rnd: Random): TaskDraft {
  const max = Math.max(1, Math.floor(options.durationSeconds));
  const duration = rnd.int(Math.max(1, Math.ceil(max / 2)), max);
  // Updates at distinct whole seconds strictly inside the task, so every segment has a length.
  const updates = rnd.int(0, Math.min(options.maxUpdates, duration - 1));
  const offsets = [0, ...distinctSorted(updates, 1, duration - 1, rnd)];

  // Only Width/Height/VideoBitrate may change on an update (shared doc §6.1): same streams, same fps.
  const streams = rnd.int(1, 3);
  const fps = rnd.pick([0, 15, 20]);
  const taskId = `${prefix}${index + 1}`;
  const outputs = offsets.map(() =>
    Array.from({ length: streams }, (_, j): TranscodeOutput => {
      const resolution = rnd.pick(RESOLUTIONS);
      return {
        StreamId: `${taskId}-out-${j + 1}`,
        VideoEncId: 1,
        Fps: fps,
        ShortEdgeAdaption: 0,
        Width: resolution.Width,
        Height: resolution.Height,
        VideoBitrate: rnd.pick(resolution.bitrates),
        GOP: 2,
      };
    }),
  );

  const stopReason: 0 | 1 = rnd.chance(options.abnormalShare) ? 1 : 0;
  const stopStatus = rnd.chance(options.buggyStatusShare) ? 'TranscodeStarted' : 'TranscodeStopped';
  const originals: Draft[] = [
    ...offsets.map((_, k): Draft => originalDraft(index, k === 0 ? 'start' : 'update', k)),
    originalDraft(index, 'stop', offsets.length),
  ];
  const reorder = rnd.chance(options.reorderRate)
    ? updates > 0 && rnd.chance(0.5)
      ? 'update-first'
      : 'stop-first'
    : null;
  // Every update stays ahead of the moment both start and stop are in: that is when the outcome is final.
  const [start, ...rest] = originals;
  const stop = rest.pop() as Draft;
  let chain: Draft[];
  if (reorder === 'stop-first') chain = [stop, ...rest, start];
  else if (reorder === 'update-first') chain = [rest[0], start, ...rest.slice(1), stop];
  else chain = [...originals];

  // Redeliveries go anywhere after their original (identical or re-signed), or after a delay (late).
  const late: Draft[] = [];
  for (const original of originals) {
    for (const kind of ['duplicate', 'resigned'] as const) {
      const rate = kind === 'duplicate' ? options.duplicateRate : options.resignRate;
      if (!rnd.chance(rate)) continue;
      const at = rnd.int(chain.indexOf(original) + 1, chain.length);
      chain.splice(at, 0, { ...original, kind, original, delayMs: 0 });
    }
    if (rnd.chance(options.lateRate)) {
      const delayMs = Math.round(options.lateDelayMs * (0.5 + rnd.next() / 2));
      late.push({ ...original, kind: 'late', original, delayMs });
    }
  }

  return {
    task: {
      index,
      appId: options.appId,
      taskId,
      userId: `${taskId}-user`,
      durationSeconds: duration,
      startTimestamp: 0,
      stopTimestamp: 0,
      stopReason,
      stopStatus,
      reorder,
      segments: [],
    },
    offsets,
    outputs,
    inputStreamId: `${taskId}-in`,
    chain,
    late,
  };
}

function originalDraft(taskIndex: number, step: LifecycleStep, sequence: number): Draft {
  return { taskIndex, kind: 'original', step, sequence, original: null, delayMs: 0 };
}

/** `count` distinct integers in [min, max], ascending. */
function distinctSorted(count: number, min: number, max: number, rnd: Random): number[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(rnd.int(min, max));
  return [...chosen].sort((a, b) => a - b);
}

/**
 * The offer order: a window of `width` tasks is active at a time and the next callback comes from a
 * random one of them, so tasks overlap as in production while each task's callbacks stay close together.
 * A task's late redeliveries are queued right after its chain.
 */
function interleave(drafts: TaskDraft[], width: number, rnd: Random): Draft[] {
  const queues = drafts.map((d) => [...d.chain, ...d.late]);
  const active: Draft[][] = [];
  let next = 0;
  const order: Draft[] = [];
  for (;;) {
    while (active.length < Math.max(1, width) && next < queues.length) active.push(queues[next++]);
    if (active.length === 0) return order;
    const k = rnd.int(0, active.length - 1);
    order.push(active[k].shift() as Draft);
    if (active[k].length === 0) active.splice(k, 1);
  }
}

function placeAndSign(
  order: Draft[],
  drafts: TaskDraft[],
  options: PlanOptions,
  rnd: Random,
): PlannedCallback[] {
  const nowSeconds = Math.floor(options.nowMs / 1000);
  // The second each callback is planned to go out: now, or paced by the rate.
  const sendSecond = (id: number) =>
    nowSeconds + (options.ratePerSecond ? Math.floor(id / options.ratePerSecond) : 0);

  // The stop is stamped when it goes out; the rest of the task is laid out backwards from it.
  order.forEach((draft, id) => {
    if (draft.step === 'stop' && draft.kind === 'original') {
      const td = drafts[draft.taskIndex];
      td.task.stopTimestamp = sendSecond(id);
      td.task.startTimestamp = td.task.stopTimestamp - td.task.durationSeconds;
      td.task.segments = td.offsets.map((offset, k) => ({
        sequence: k,
        from: td.task.startTimestamp + offset,
        outputs: td.outputs[k],
      }));
    }
  });

  const lastInChain = new Map<number, number>();
  const callbacks: PlannedCallback[] = [];
  order.forEach((draft, id) => {
    const td = drafts[draft.taskIndex];
    let after: number | undefined;
    if (draft.kind === 'late') {
      after = draft.original?.placed?.id;
    } else {
      after = lastInChain.get(draft.taskIndex);
      lastInChain.set(draft.taskIndex, id);
    }

    const repeated = draft.original?.placed;
    let signed: Pick<
      PlannedCallback,
      'timestamp' | 'nonce' | 'signature' | 'encoding' | 'body' | 'contentType'
    >;
    if (repeated && draft.kind !== 'resigned') {
      // An identical redelivery: byte for byte the body already sent.
      const { timestamp, nonce, signature, encoding, body, contentType } = repeated;
      signed = { timestamp, nonce, signature, encoding, body, contentType };
    } else {
      const timestamp = repeated
        ? String(Number(repeated.timestamp) + rnd.int(1, 3))
        : String(eventTimestamp(td, draft));
      const nonce = rnd.digits(19);
      const sig = signatureFields({ secret: options.secret, timestamp, nonce });
      const signature = sig.Signature;
      const encoding =
        repeated?.encoding ?? (options.encoding === 'mixed' ? rnd.pick(BODY_ENCODINGS) : options.encoding);
      const fields = callbackFields(td, draft, sig);
      signed = { timestamp, nonce, signature, encoding, ...encodeBody(fields, encoding) };
    }

    const placed: PlannedCallback = {
      id,
      taskIndex: draft.taskIndex,
      kind: draft.kind,
      originalId: repeated?.id ?? id,
      step: draft.step,
      event: EVENT_OF[draft.step],
      sequence: draft.sequence,
      status: statusOf(td.task, draft.step),
      ...(draft.step === 'stop' ? { stopReason: td.task.stopReason } : {}),
      ...(after !== undefined ? { after } : {}),
      delayMs: draft.delayMs,
      ...signed,
    };
    draft.placed = placed;
    callbacks.push(placed);
  });
  return callbacks;
}

function eventTimestamp(td: TaskDraft, draft: Draft): number {
  if (draft.step === 'stop') return td.task.stopTimestamp;
  return td.task.startTimestamp + td.offsets[draft.sequence];
}

function statusOf(task: PlannedTask, step: LifecycleStep): string {
  if (step === 'start') return 'TranscodeStarted';
  if (step === 'update') return 'TranscodeUpdated';
  return task.stopStatus;
}

/** The body in ZEGO's documented field order and JSON types (shared doc §2.1, §2.2). */
function callbackFields(td: TaskDraft, draft: Draft, sig: SignatureFields): Record<string, unknown> {
  const { task } = td;
  const common = {
    Event: EVENT_OF[draft.step],
    Appid: task.appId,
    Timestamp: sig.Timestamp,
    Nonce: sig.Nonce,
    Signature: sig.Signature,
    TaskId: task.taskId,
    UserId: task.userId,
    Sequence: draft.sequence,
    Status: statusOf(task, draft.step),
  };
  if (draft.step === 'stop') return { ...common, StopReason: task.stopReason };
  return {
    ...common,
    Details: { Input: { StreamId: td.inputStreamId }, Outputs: td.outputs[draft.sequence] },
  };
}
