/**
 * The server's gRPC interceptors (src/temporal/deadlines.ts) against a local gRPC server that
 * answers every call UNAVAILABLE, as a Temporal frontend that is going away does: with the inbox
 * (`relayRetries`), a signal-with-start is tried once and its failure reaches the relay at once;
 * other calls, and every call without the inbox, keep the SDK's retries.
 */
import { Server, ServerCredentials, status, type ServiceDefinition } from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import { ServerCalls } from '../../src/temporal/deadlines';

const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService';
const METHODS = ['SignalWithStartWorkflowExecution', 'DescribeWorkflowExecution'] as const;

describe('ServerCalls', () => {
  let server: Server;
  let address: string;
  const calls = new Map<string, number>();

  beforeAll(async () => {
    server = new Server();
    const raw = (b: Buffer) => b;
    const definition: ServiceDefinition = Object.fromEntries(
      METHODS.map((m) => [
        m,
        {
          path: `${SERVICE}/${m}`,
          requestStream: false,
          responseStream: false,
          requestSerialize: raw,
          requestDeserialize: raw,
          responseSerialize: raw,
          responseDeserialize: raw,
        },
      ]),
    );
    const unavailable =
      (m: string) => (_call: unknown, callback: (err: { code: number; details: string }) => void) => {
        calls.set(m, (calls.get(m) ?? 0) + 1);
        callback({ code: status.UNAVAILABLE, details: 'going away' });
      };
    server.addService(definition, Object.fromEntries(METHODS.map((m) => [m, unavailable(m)])));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => server.forceShutdown());
  beforeEach(() => calls.clear());

  /** The gRPC status code each call ended with. */
  async function callBoth(relayRetries: boolean): Promise<Record<(typeof METHODS)[number], number>> {
    const serverCalls = new ServerCalls(1_000, 1_000, { relayRetries });
    const connection = Connection.lazy({ address, interceptors: serverCalls.interceptors() });
    const service = connection.workflowService;
    const code = (p: Promise<unknown>) =>
      p.then(
        () => status.OK,
        (err: { code: number }) => err.code,
      );
    const codes = {
      SignalWithStartWorkflowExecution: await code(
        service.signalWithStartWorkflowExecution({ namespace: 'default' }),
      ),
      DescribeWorkflowExecution: await code(service.describeWorkflowExecution({ namespace: 'default' })),
    };
    await serverCalls.drain();
    await connection.close();
    return codes;
  }

  // Retried until the deadline, UNAVAILABLE comes back as DEADLINE_EXCEEDED.
  const retried = [status.UNAVAILABLE, status.DEADLINE_EXCEEDED];

  it('with the inbox, tries a signal-with-start once and retries the other calls', async () => {
    const codes = await callBoth(true);
    expect(codes.SignalWithStartWorkflowExecution).toBe(status.UNAVAILABLE);
    expect(calls.get('SignalWithStartWorkflowExecution')).toBe(1);
    expect(retried).toContain(codes.DescribeWorkflowExecution);
    expect(calls.get('DescribeWorkflowExecution')).toBeGreaterThan(1);
  });

  it('without the inbox, retries every call', async () => {
    const codes = await callBoth(false);
    expect(retried).toContain(codes.SignalWithStartWorkflowExecution);
    expect(calls.get('SignalWithStartWorkflowExecution')).toBeGreaterThan(1);
    expect(retried).toContain(codes.DescribeWorkflowExecution);
    expect(calls.get('DescribeWorkflowExecution')).toBeGreaterThan(1);
  });
});
