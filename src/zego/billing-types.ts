/** Resolution tiers of ZEGO's server-side stream mixing price list (shared doc §10). */
export const TIERS = ['audio', 'sd', 'hd', 'fhd', 'uhd'] as const;
export type Tier = (typeof TIERS)[number];

/** Price in CNY per 1000 minutes, per tier. */
export type PriceTable = Record<Tier, number>;

export interface BillingLine {
  tier: Tier;
  /** Output-seconds in this tier (all outputs and segments of the lifecycle summed). */
  seconds: number;
  /** seconds rounded up to whole minutes. */
  minutes: number;
  /** CNY, rounded to 6 decimals. */
  cost: number;
}

export interface BillingResult {
  billableSeconds: number;
  billableMinutes: number;
  lines: BillingLine[];
  currency: 'CNY';
  totalCost: number;
}
