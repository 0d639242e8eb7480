// The custom domain's DNS records in the Route 53 zone cdn.hostedZoneId: the
// certificate's validation CNAME (kept: ACM renews by finding it again) and
// the domain's alias A/AAAA records to the distribution. Each is read first
// and written (UPSERT) only when it differs, so a second deploy sends nothing.
// Without a zone, the records are printed for the user to create.
// https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, type Change, type ResourceRecordSet, type RRType } from "@aws-sdk/client-route-53";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, ignoreAbsent, orAbsent } from "../toolkit/index.ts";

const RESOURCE = "CDN domain record";
/**
 * The hosted zone id every alias to a CloudFront distribution names.
 * https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html
 */
export const CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2";
/** ACM's own suggestion for its validation records. */
const VALIDATION_TTL = 300;

export interface DnsRecord {
  name: string;
  type: "CNAME";
  value: string;
}

/** Route 53 answers names absolute (trailing dot) and case-folded. */
export const absolute = (name: string) => (name.endsWith(".") ? name : `${name}.`).toLowerCase();

/** The record set of that exact name and type, or undefined (also when the zone is gone, for removals). */
export async function readRecord(ctx: DeployContext, zone: string, name: string, type: RRType): Promise<ResourceRecordSet | undefined> {
  return step("reading", RESOURCE, `${name} ${type}`, "route53:ListResourceRecordSets", async () => {
    const page = await orAbsent("route53", () => ctx.clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone, StartRecordName: absolute(name), StartRecordType: type, MaxItems: 1 })));
    const got = page?.ResourceRecordSets?.[0];
    return got !== undefined && absolute(got.Name ?? "") === absolute(name) && got.Type === type ? got : undefined;
  });
}

const send = (ctx: DeployContext, zone: string, Changes: Change[]) =>
  ctx.clients.route53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zone, ChangeBatch: { Comment: `imgapi stack ${ctx.names.stack}`, Changes } }));

/** Writes the validation CNAME into the zone unless it is there with that value. */
export async function ensureValidationRecord(ctx: DeployContext, changes: Changes, zone: string, record: DnsRecord): Promise<void> {
  const have = await readRecord(ctx, zone, record.name, record.type);
  if (have?.ResourceRecords?.some((r) => absolute(r.Value ?? "") === absolute(record.value))) return;
  const set: ResourceRecordSet = { Name: absolute(record.name), Type: record.type, TTL: VALIDATION_TTL, ResourceRecords: [{ Value: record.value }] };
  await changes.apply(`validation record ${record.name} in zone ${zone}`, "route53:ChangeResourceRecordSets", () => send(ctx, zone, [{ Action: "UPSERT", ResourceRecordSet: set }]), "writing the validation record of");
}

/** Deletes a record exactly as read (Route 53 deletes only a full match); a record or zone already gone is the outcome wanted. */
export async function deleteRecord(ctx: DeployContext, changes: Changes, zone: string, set: ResourceRecordSet): Promise<void> {
  await changes.apply(`${set.Name} ${set.Type} deleted`, "route53:ChangeResourceRecordSets", () =>
    ignoreAbsent("route53", () => send(ctx, zone, [{ Action: "DELETE", ResourceRecordSet: set }]), "InvalidChangeBatch"), "deleting");
}

const ALIAS_TYPES = ["A", "AAAA"] as const satisfies RRType[];
const aliasTo = (set: ResourceRecordSet | undefined, target: string) =>
  set?.AliasTarget?.HostedZoneId === CLOUDFRONT_ZONE_ID && absolute(set.AliasTarget.DNSName ?? "") === absolute(target);

/**
 * Points cdn.domain at the distribution: with a hosted zone, alias A and AAAA
 * records (IPv4 and IPv6: the distribution has IPv6 on); without one, the
 * report names the CNAME to create. For the distribution step, once it knows
 * the distribution's domain name (dxxxx.cloudfront.net).
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-cloudfront-distribution.html
 */
export async function ensureCdnAlias(ctx: DeployContext, distributionDomain: string): Promise<StepReport> {
  const { domain, hostedZoneId: zone } = ctx.config.cdn;
  if (domain === undefined) return { resource: RESOURCE, name: "(no cdn.domain)", action: "absent" };
  const changes = new Changes(ctx, RESOURCE, domain);
  if (zone === undefined) {
    const detail = `create this record at your DNS provider: ${domain} CNAME ${distributionDomain}`;
    ctx.progress(detail);
    return { resource: RESOURCE, name: domain, action: "unchanged", detail };
  }
  const wrong: Change[] = [];
  for (const type of ALIAS_TYPES) {
    if (!aliasTo(await readRecord(ctx, zone, domain, type), distributionDomain)) {
      wrong.push({ Action: "UPSERT", ResourceRecordSet: { Name: absolute(domain), Type: type, AliasTarget: { HostedZoneId: CLOUDFRONT_ZONE_ID, DNSName: distributionDomain, EvaluateTargetHealth: false } } });
    }
  }
  if (wrong.length > 0) await changes.apply(`alias ${wrong.map((c) => c.ResourceRecordSet!.Type).join("/")} to ${distributionDomain}`, "route53:ChangeResourceRecordSets", () => send(ctx, zone, wrong), "writing the alias of");
  return changes.report(false);
}

/** Deletes the domain's alias records to CloudFront (no others: a record someone pointed elsewhere stays). */
export async function removeCdnAlias(ctx: DeployContext, changes: Changes, zone: string, domain: string): Promise<void> {
  for (const type of ALIAS_TYPES) {
    const set = await readRecord(ctx, zone, domain, type);
    if (set?.AliasTarget?.HostedZoneId === CLOUDFRONT_ZONE_ID) await deleteRecord(ctx, changes, zone, set);
  }
}
