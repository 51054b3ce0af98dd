import type { Sizes } from './run-context';
import type { Stack } from './stack';
import type { Traffic } from './traffic';

/** What a section's measure() gets: the stack, the main queue's traffic, the run's sizes, a logger. */
export interface BenchEnv {
  stack: Stack;
  traffic: Traffic;
  sizes: Sizes;
  log: (line: string) => void;
}
