/**
 * How the relay reads a failed signal-with-start (src/inbox/classify.ts): the error chains below
 * have the shape the Temporal client really throws (our TemporalUnavailableError around the SDK's
 * ServiceError around grpc-js's status error with a numeric `code` and `details`).
 */
import { ServiceError } from '@temporalio/client';
import { classifyDeliveryError, failedRetryDelayMs, grpcCodeOf } from '../../src/inbox/classify';
import { TemporalUnavailableError } from '../../src/http/ports';

const CODES = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

function temporalError(code: keyof typeof CODES, details: string): Error {
  const grpc = Object.assign(new Error(`${CODES[code]} ${code}: ${details}`), { code: CODES[code], details });
  const service = new ServiceError('Failed to signalWithStart Workflow', { cause: grpc });
  return new TemporalUnavailableError(`Temporal hand-off failed: ${service.message}`, 2, { cause: service });
}

describe('classifyDeliveryError', () => {
  it.each([
    ['UNAVAILABLE', 'No connection established', 'unavailable'],
    ['DEADLINE_EXCEEDED', 'Deadline exceeded', 'unavailable'],
    ['RESOURCE_EXHAUSTED', 'namespace rate limit exceeded', 'unavailable'],
    ['CANCELLED', 'Call cancelled', 'unavailable'],
    ['NOT_FOUND', 'Namespace default is not found.', 'waiting'],
    ['PERMISSION_DENIED', 'Request unauthorized.', 'waiting'],
    ['UNAUTHENTICATED', 'invalid API key', 'waiting'],
    ['INVALID_ARGUMENT', 'search attribute ZegoAppId is not defined', 'waiting'],
    [
      'INVALID_ARGUMENT',
      'Namespace default has no mapping defined for search attribute ZegoTaskId',
      'waiting',
    ],
    ['INVALID_ARGUMENT', 'Blob data size exceeds limit.', 'refused'],
    ['INVALID_ARGUMENT', 'search attribute ZegoUserId exceeds size limit 2048', 'refused'],
    ['INVALID_ARGUMENT', 'WorkflowId exceeds length limit.', 'refused'],
    ['FAILED_PRECONDITION', 'something unexpected', 'failed'],
    ['INTERNAL', 'boom', 'failed'],
    ['UNKNOWN', 'who knows', 'failed'],
  ] as const)('%s "%s" → %s', (code, details, kind) => {
    const failure = classifyDeliveryError(temporalError(code, details));
    expect(failure).toEqual({ kind, code, message: details });
  });

  it('errors without a gRPC status: timeouts and connection errors are an outage, the rest failed', () => {
    expect(classifyDeliveryError(new TemporalUnavailableError('Temporal did not answer in time')).kind).toBe(
      'unavailable',
    );
    expect(classifyDeliveryError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).kind).toBe(
      'unavailable',
    );
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyDeliveryError(timeout).kind).toBe('unavailable');
    expect(classifyDeliveryError(new TypeError('cannot read properties of undefined'))).toEqual({
      kind: 'failed',
      code: null,
      message: 'cannot read properties of undefined',
    });
    expect(classifyDeliveryError('a string').kind).toBe('failed');
  });

  it('reads the numeric gRPC code anywhere in the chain, never a Node string code', () => {
    expect(grpcCodeOf(temporalError('INVALID_ARGUMENT', 'x'))).toBe('INVALID_ARGUMENT');
    expect(grpcCodeOf(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeNull();
    expect(grpcCodeOf(Object.assign(new Error('x'), { code: 99 }))).toBeNull();
    const cyclic: { cause?: unknown; message: string } = { message: 'loop' };
    cyclic.cause = cyclic;
    expect(grpcCodeOf(cyclic)).toBeNull();
  });
});

describe('failedRetryDelayMs', () => {
  it('grows with the attempts from 1 s, is capped at 60 s, and jitters within [ceiling/2, ceiling]', () => {
    expect(failedRetryDelayMs(1, () => 0)).toBe(500);
    expect(failedRetryDelayMs(1, () => 0.999999)).toBe(1000);
    expect(failedRetryDelayMs(3, () => 0.5)).toBe(3000);
    expect(failedRetryDelayMs(50, () => 0.999999)).toBe(60_000);
    expect(failedRetryDelayMs(0, () => 0)).toBe(500);
  });
});
