/** How RESULTS.md writes figures: tables, sizes, counts, met or missed. */

export const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
export const kib = (b: number) => (b / 1024).toFixed(0);
export const count = (x: number) => x.toLocaleString('en-US');
export const met = (ok: boolean) => (ok ? '**met**' : '**missed**');
export const duration = (seconds: number) =>
  seconds < 120 ? `${seconds.toFixed(0)} s` : `${(seconds / 60).toFixed(0)} minutes`;
/** `512 MB` for 512e6 bytes: how the memory target is stated. */
export const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;

export function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(String).join(' | ')} |`),
  ].join('\n');
}

/** One row of the summary table: figure, measured, target, met or missed (empty: reported only). */
export type SummaryRow = [string, string, string, string];
