/**
 * 6. Where the HTTP server (with its inbox, as shipped) spends its CPU: a `node --cpu-prof` of it
 * under load, self time by package, by function, and by the part of the server the sample's stack
 * is in (the request path or the relay).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BenchEnv } from '../lib/bench-env';
import { closedLoop, HttpPoster } from '../lib/load';
import { table } from '../lib/markdown';
import { summarizeProfileDir, type ProfileSummary, type StackGroups } from '../lib/profile';
import { CONCURRENCY } from '../lib/run-context';
import { MAIN_QUEUE } from '../lib/traffic';

export type ServerProfile = ProfileSummary & { requests: number; windowMs: number; concurrency: number };

/** A sample belongs to the relay when a frame of src/inbox/relay.ts is on its stack, else to the request path when one of src/http/ is. */
const STACK_GROUPS: StackGroups = [
  ['relay (src/inbox/relay.ts)', /\/src\/inbox\/relay\.ts$/],
  ['request path (src/http/)', /\/src\/http\//],
];

export async function measure(env: BenchEnv): Promise<ServerProfile | null> {
  const { stack, traffic, log, sizes } = env;
  const dir = path.join(stack.dir, 'server-profile');
  mkdirSync(dir, { recursive: true });
  let server: Awaited<ReturnType<typeof stack.startServer>> | undefined;
  try {
    // The same entry point and settings as the measured servers, on the main queue (its worker serves it).
    server = await stack.startServer(MAIN_QUEUE, {
      name: 'profile',
      nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
    });
    const poster = new HttpPoster(`${server.url}/zego/callback`, CONCURRENCY);
    const warm = traffic.block('800004', 'prof-warm', 100);
    const warmed = await closedLoop(warm.length, CONCURRENCY, (i) =>
      poster.post(warm[i].body, warm[i].contentType),
    );
    traffic.handedOver('800004', warmed, warm.length);
    const cbs = traffic.block('800006', 'prof', sizes.profile.n);
    await traffic.settle(60_000);
    // Only the load window counts (V8 stamps samples with CLOCK_MONOTONIC, as process.hrtime does),
    // until the relay has delivered the last of them.
    const from = Number(process.hrtime.bigint() / 1000n);
    const t0 = Date.now();
    const res = await closedLoop(cbs.length, CONCURRENCY, (i) =>
      poster.post(cbs[i].body, cbs[i].contentType),
    );
    await traffic.deliveredAfter('800006', 'prof', res.ok, t0, 120_000);
    const to = Number(process.hrtime.bigint() / 1000n);
    traffic.handedOver('800006', res, cbs.length);
    poster.close();
    await server.child.stop(15_000); // SIGTERM: the server exits cleanly and node writes the profile
    const summary = summarizeProfileDir(dir, 12, [from, to], STACK_GROUPS);
    return (
      summary && { ...summary, requests: res.ok, windowMs: (to - from) / 1000, concurrency: CONCURRENCY }
    );
  } catch (err) {
    log(`  profile failed: ${(err as Error).message}`);
    await server?.child.kill();
    return null;
  }
}

export function render(p: ServerProfile): string[] {
  return [
    '## 6. Where the HTTP server spends its CPU',
    '',
    `\`node --cpu-prof\` of \`src/main/server.ts\` with its inbox under ${p.requests} callbacks, ${p.concurrency} in flight, ` +
      `until the relay had delivered them all (${p.busyMs.toFixed(0)} ms busy, ${p.idleMs.toFixed(0)} ms idle): self time by ` +
      'the part of the server the stack is in, by package and by function.',
    '',
    table(
      ['stack', 'share'],
      p.byStack.map((s) => [s.name, `${(s.share * 100).toFixed(1)}%`]),
    ),
    '',
    `A sample counts for the relay when a frame of src/inbox/relay.ts is on its stack, for the request path when one ` +
      'of src/http/ is; `other` is what runs outside both (socket reads and the PostgreSQL and gRPC protocol ' +
      'parsing they trigger, timers, garbage collection), shared by the two.',
    '',
    table(
      ['package', 'share'],
      p.byPackage.map((s) => [s.name, `${(s.share * 100).toFixed(1)}%`]),
    ),
    '',
    table(
      ['function', 'share'],
      p.byFunction.slice(0, 10).map((s) => [s.name.replace(/\|/g, '\\|'), `${(s.share * 100).toFixed(1)}%`]),
    ),
    '',
  ];
}

/** The server's CPU per callback (section 2) split by the profile's stack shares. */
export function cpuSplit(p: ServerProfile, serverCpuMs: number): string {
  return p.byStack.map((s) => `${s.name} ${(s.share * serverCpuMs).toFixed(2)} ms`).join(', ');
}
