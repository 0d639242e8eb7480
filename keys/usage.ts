// A key's requests in its plan's current quota period, from GetUsage: daily
// [used, remaining] pairs per key, summed from the period's first day to today.
// https://docs.aws.amazon.com/apigateway/latest/api/API_GetUsage.html
import { GetUsageCommand } from "@aws-sdk/client-api-gateway";
import type { DeployContext } from "../deploy/context.ts";
import { step } from "../deploy/errors.ts";

export type Period = "DAY" | "WEEK" | "MONTH";

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The first day (UTC) of the quota period that holds `today`. Monthly quotas
 * reset on the 1st of the month, daily ones at midnight UTC; AWS does not
 * document the weekday a weekly quota resets on, so the week is taken as ISO
 * (from Monday): the figure is the usage since then, not necessarily the
 * quota's own count.
 * https://docs.aws.amazon.com/apigateway/latest/api/API_QuotaSettings.html
 */
export function periodStart(period: Period, today: Date): string {
  const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
  if (period === "MONTH") d.setUTCDate(1);
  if (period === "WEEK") d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return day(d);
}

export interface Usage {
  /** Requests this period, or undefined when AWS has no data for the key. */
  used?: number;
  from: string;
  to: string;
}

export async function usageThisPeriod(ctx: DeployContext, planId: string, period: Period, keyId: string, today: Date): Promise<Usage> {
  const from = periodStart(period, today);
  const to = day(today);
  const answer = await step("reading the usage of", "API key", keyId, "apigateway:GET", () =>
    ctx.clients.apigw.send(new GetUsageCommand({ usagePlanId: planId, keyId, startDate: from, endDate: to })),
  );
  const days = answer.items?.[keyId];
  if (days === undefined) return { from, to };
  return { used: days.reduce((sum, [used]) => sum + (Number(used) || 0), 0), from, to };
}
