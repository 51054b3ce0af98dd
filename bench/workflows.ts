/**
 * The benchmark worker's workflows: the service's own (unchanged) plus `benchTrivial`, the floor
 * of what a worker and the dev server can complete (started, one workflow task, completed), against
 * which the lifecycle's end-to-end throughput is compared.
 */
export * from '../workflows';

export async function benchTrivial(): Promise<string> {
  return 'done';
}
