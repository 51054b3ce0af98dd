/** What the activities are given (createActivities in ./index.ts wires them in). */
import type { Logger } from 'pino';
import type { Database } from '../src/store/types';
import type { PriceTable, Tier } from '../src/zego/billing-types';
import type { ZegoApiClient } from '../src/zego/api-client';
import type { FollowUp } from './follow-ups';

export interface ActivityDeps {
  db: Database;
  prices: PriceTable;
  unknownResolutionTier: Tier;
  alertWebhookUrl?: string;
  logger: Logger;
  /** Injectable for tests (default: global fetch). */
  fetch?: typeof fetch;
  /** Per POST, default 10 s. */
  alertTimeoutMs?: number;
  /** ZEGO's server API (ZEGO_APP_ID/ZEGO_SERVER_SECRET): stale tasks are stopped through it. */
  zegoApi?: ZegoApiClient | null;
  /** Registered business follow-ups (activities/follow-ups/index.ts). */
  followUps?: readonly FollowUp[];
}
