/** Reads a V8 .cpuprofile (node --cpu-prof) into self time per package and per function. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time (idle excluded), ms. */
  busyMs: number;
  idleMs: number;
  /** Share of busy time by package (`node_modules/<pkg>`), project file or `node:` internals. */
  byPackage: { name: string; share: number }[];
  byFunction: { name: string; share: number }[];
  /** Share of busy time by the first of `stackGroups` a frame of the sample's stack matches (else `other`). */
  byStack: { name: string; share: number }[];
}

/** Groups of stacks (name, and a pattern of a frame's url) in order of precedence. */
export type StackGroups = [name: string, url: RegExp][];

/**
 * The largest .cpuprofile in `dir` (the main thread's). `windowUs`: only samples taken between these
 * two CLOCK_MONOTONIC times (µs, `process.hrtime` of any process on this machine: V8 stamps its
 * samples on the same clock), so start-up (module loading) does not count.
 */
export function summarizeProfileDir(
  dir: string,
  top = 12,
  windowUs?: [number, number],
  stackGroups: StackGroups = [],
): ProfileSummary | null {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
  if (!files.length) return null;
  const file = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top, windowUs, stackGroups);
}

function packageOf(url: string): string {
  if (!url) return '(native/VM)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node: internals';
  const m = /\/work\/[^/]+\/(.*)$/.exec(url.replace('file://', ''));
  return m ? m[1].split('/').slice(0, 2).join('/') : url.replace('file://', '');
}

export function summarizeProfile(
  p: CpuProfile,
  top = 12,
  windowUs?: [number, number],
  stackGroups: StackGroups = [],
): ProfileSummary {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const groupCache = new Map<number, string>();
  /** The group of the sample's whole stack, from the leaf up to the root. */
  const groupOf = (id: number): string => {
    const cached = groupCache.get(id);
    if (cached !== undefined) return cached;
    const urls: string[] = [];
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n))
      urls.push(nodes.get(n)?.callFrame.url ?? '');
    const group = stackGroups.find(([, re]) => urls.some((u) => re.test(u)))?.[0] ?? 'other';
    groupCache.set(id, group);
    return group;
  };
  const byStack = new Map<string, number>();
  let t = p.startTime;
  const inWindow = p.samples.map((_, i) => {
    t += p.timeDeltas[i] ?? 0;
    return !windowUs || (t >= windowUs[0] && t <= windowUs[1]);
  });
  // A clock mismatch would leave nothing: then the whole profile counts.
  if (!inWindow.some(Boolean)) inWindow.fill(true);
  const byPkg = new Map<string, number>();
  const byFn = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  p.samples.forEach((id, i) => {
    if (!inWindow[i]) return;
    const d = p.timeDeltas[i] ?? 0;
    const cf = nodes.get(id)?.callFrame;
    if (!cf) return;
    if (cf.functionName === '(idle)') {
      idle += d;
      return;
    }
    busy += d;
    const special = cf.functionName.startsWith('(') ? cf.functionName : null;
    const pkg = special ?? packageOf(cf.url);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + d);
    const fn = special ?? `${cf.functionName || '(anonymous)'} (${pkg})`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + d);
    const group = groupOf(id);
    byStack.set(group, (byStack.get(group) ?? 0) + d);
  });
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, t]) => ({ name, share: busy ? t / busy : 0 }));
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    byPackage: rank(byPkg),
    byFunction: rank(byFn),
    byStack: rank(byStack),
  };
}
