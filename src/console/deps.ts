/** What the console reads and does, and how a page answers. */
import type { AdminAuth } from '../http/admin-auth';
import type { LifecycleGateway } from '../http/ports';
import type { CallbackInbox } from '../store/inbox';
import type { AlertLog } from '../store/types';
import type { UsageReader } from '../store/usage';
import type { SafeHtml } from './html';
import type { Section } from './layout';

export interface ConsoleDeps {
  auth: AdminAuth;
  gateway: LifecycleGateway;
  usage?: UsageReader;
  inbox?: CallbackInbox;
  alerts?: AlertLog;
  onRedeliver?: () => void;
  /** Where the task page links each workflow (TEMPORAL_UI_URL, or the dev server's UI). */
  temporalUi?: { url: string; namespace: string };
  now?: () => number;
}

export interface Page {
  status?: number;
  title: string;
  section?: Section;
  body: SafeHtml;
}

/** Thrown by a page for an answer other than the page itself (400, 404, 503). */
export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown by a page that answers with a redirect (303). */
export class Redirect extends Error {
  constructor(readonly location: string) {
    super(`redirect to ${location}`);
  }
}

/** A single string query parameter ('' when absent); repeated parameters are a 400. */
export function param(query: Record<string, unknown>, name: string, max = 256): string {
  const value = query[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new PageError(400, 'Bad request', `${name} must be given once`);
  if (value.length > max)
    throw new PageError(400, 'Bad request', `${name} must be at most ${max} characters`);
  return value.trim();
}

export function unavailable(what: string): PageError {
  return new PageError(503, 'Unavailable', `${what} could not be read just now; try again in a moment.`);
}
