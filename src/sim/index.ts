/** The simulator's programmatic API (benchmarks, chaos tests); the CLI is src/sim/cli.ts. */
export { runSimulation, planSimulation } from './run';
export { resolveOptions, SimulationOptionsError, DEFAULTS, type SimulationOptions } from './options';
export {
  buildPlan,
  RESOLUTIONS,
  type Plan,
  type PlanOptions,
  type PlannedCallback,
  type PlannedTask,
} from './plan';
export { expectedStates, type ExpectedTaskState } from './expected';
export { sendCallbacks, ZEGO_RETRY_DELAYS_MS, type SendResult, type DeliveryResult } from './sender';
export { formatTable, type SimulationReport, type SimulationSummary, type LostCallback } from './report';
export { encodeBody, decodeBody, type BodyEncoding, type EncodingChoice } from './encoding';
