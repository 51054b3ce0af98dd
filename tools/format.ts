/** Short texts for progress lines and error messages. */

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** An error's message on one line, at most 200 characters. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return truncate(text.replace(/\s+/g, ' ').trim(), 200);
}

/** `12.3s` since `since` (a Date.now()). */
export function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}
