// The custom domain's certificate (config cdn.domain): a public ACM certificate
// for exactly that name, DNS-validated, in us-east-1 whatever the stack's
// region ("To use an ACM certificate with Amazon CloudFront, you must request
// or import the certificate in the US East (N. Virginia) region",
// https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html). Found again
// by domain and the stack's tag, never requested twice. With cdn.hostedZoneId
// the validation record is written to the zone; without, it is printed. Deploy
// goes on only with an ISSUED certificate: CloudFront refuses any other.
import { randomUUID } from "node:crypto";
import { DeleteCertificateCommand, DescribeCertificateCommand, ListCertificatesCommand, ListTagsForCertificateCommand, RequestCertificateCommand, type CertificateDetail, type CertificateSummary } from "@aws-sdk/client-acm";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import { STACK_TAG } from "../names.ts";
import { Changes, ignoreAbsent, orAbsent, tagList, tagMap } from "../toolkit/index.ts";
import { deleteRecord, ensureValidationRecord, readRecord, removeCdnAlias, type DnsRecord } from "./cdn-dns.ts";

/** For the distribution step: the domain's alias (Route 53) or the CNAME to create, once the distribution's domain is known. */
export { ensureCdnAlias } from "./cdn-dns.ts";

const RESOURCE = "CDN certificate";
/**
 * How long deploy waits for ISSUED. With a zone ACM finds the record itself,
 * usually within minutes ("can take ... up to 30 minutes",
 * https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html);
 * without, the user is creating it by hand: wait a little, then say so.
 */
export const ISSUE_WAIT_MS = { zone: 600_000, manual: 120_000 } as const;
const ISSUE_POLL_MS = 15_000;
/**
 * "After successful completion of the RequestCertificate action, there is a
 * delay of several seconds before you can retrieve information about the new
 * certificate": the validation record comes a little after the ARN.
 * https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html
 */
export const RECORD_WAIT_MS = 60_000;
/** What a certificate the stack keeps using may be in; any other (FAILED, VALIDATION_TIMED_OUT, ...) is replaced. */
const USABLE = new Set(["ISSUED", "PENDING_VALIDATION"]);

export type CdnCertificateReport = StepReport & { certificateArn?: string };

const describe = (ctx: DeployContext, CertificateArn: string) =>
  step("reading", RESOURCE, CertificateArn, "acm:DescribeCertificate", async () => (await ctx.clients.acm.send(new DescribeCertificateCommand({ CertificateArn }))).Certificate ?? {});

/** The stack's certificates (by tag), of one domain or all; read-only. */
export async function findCdnCertificates(ctx: DeployContext, domain?: string): Promise<CertificateSummary[]> {
  return step("finding", RESOURCE, domain ?? ctx.names.stack, "acm:ListCertificates and acm:ListTagsForCertificate", async () => {
    const mine: CertificateSummary[] = [];
    let NextToken: string | undefined;
    do {
      const page = await ctx.clients.acm.send(new ListCertificatesCommand({ MaxItems: 100, ...(NextToken ? { NextToken } : {}) }));
      for (const c of page.CertificateSummaryList ?? []) {
        if (c.CertificateArn === undefined || (domain !== undefined && c.DomainName !== domain)) continue;
        const tags = await orAbsent("acm", () => ctx.clients.acm.send(new ListTagsForCertificateCommand({ CertificateArn: c.CertificateArn })));
        if (tags !== undefined && tagMap(tags.Tags)[STACK_TAG] === ctx.names.stack) mine.push(c);
      }
      NextToken = page.NextToken || undefined;
    } while (NextToken !== undefined);
    return mine;
  });
}

const validationRecord = (cert: CertificateDetail): DnsRecord | undefined => {
  const r = cert.DomainValidationOptions?.[0]?.ResourceRecord;
  return r?.Name && r.Value ? { name: r.Name, type: "CNAME", value: r.Value } : undefined;
};
const show = (r: DnsRecord) => `${r.name} CNAME ${r.value}`;

/** Polls DescribeCertificate on the deploy's clock until `done` holds or `waitMs` passes; the last answer either way. */
async function poll(ctx: DeployContext, arn: string, waitMs: number, done: (c: CertificateDetail) => boolean, say?: (left: number) => string): Promise<CertificateDetail> {
  const deadline = ctx.clock.now() + waitMs;
  for (let delay = 1_000; ; delay = Math.min(delay * 2, ISSUE_POLL_MS)) {
    const cert = await describe(ctx, arn);
    const left = deadline - ctx.clock.now();
    if (done(cert) || left <= 0) return cert;
    if (say) ctx.progress(say(Math.ceil(left / 1000)));
    await ctx.clock.sleep(Math.min(delay, left));
  }
}

/** Requests the certificate for cdn.domain, writes or prints its validation record, and waits (bounded) until it is ISSUED. */
export async function ensureCdnCertificate(ctx: DeployContext): Promise<CdnCertificateReport> {
  const { domain, hostedZoneId: zone } = ctx.config.cdn;
  if (domain === undefined) return removeCdnCertificate(ctx);
  const changes = new Changes(ctx, RESOURCE, domain);
  const usable = (await findCdnCertificates(ctx, domain)).filter((c) => USABLE.has(c.Status ?? ""));
  let arn = (usable.find((c) => c.Status === "ISSUED") ?? usable[0])?.CertificateArn;
  const created = arn === undefined;
  if (arn === undefined) {
    // A token per run: the SDK's retries of this one call (a lost answer) get the same certificate back.
    const IdempotencyToken = randomUUID().replaceAll("-", "");
    const made = await changes.apply("certificate", "acm:RequestCertificate and acm:AddTagsToCertificate", () =>
      ctx.clients.acm.send(new RequestCertificateCommand({ DomainName: domain, ValidationMethod: "DNS", IdempotencyToken, Tags: tagList(ctx.tags) })), "requesting");
    if (made === undefined) return changes.report(true, `DNS-validated, in us-east-1${zone ? `, validation record written to ${zone}` : ""}`);
    arn = made.CertificateArn!;
  }
  let cert = await poll(ctx, arn, RECORD_WAIT_MS, (c) => c.Status === "ISSUED" || validationRecord(c) !== undefined);
  const record = validationRecord(cert);
  if (record === undefined && cert.Status !== "ISSUED") {
    throw new DeployError("reading", RESOURCE, domain, "ValidationRecordNotReady", `ACM gave no DNS validation record for ${arn} within ${RECORD_WAIT_MS / 1000} s. Run deploy again: it continues with the same certificate.`);
  }
  // Kept after issue too: ACM's managed renewal looks for the same record.
  if (zone !== undefined && record !== undefined) await ensureValidationRecord(ctx, changes, zone, record);
  if (cert.Status !== "ISSUED" && ctx.dryRun) return changes.report(created, `${cert.Status}: the validation record is ${show(record!)}`);
  if (cert.Status !== "ISSUED") {
    if (zone === undefined) ctx.progress(`${RESOURCE} ${domain}: create this DNS record at your DNS provider: ${show(record!)}`);
    const waitMs = zone === undefined ? ISSUE_WAIT_MS.manual : ISSUE_WAIT_MS.zone;
    cert = await poll(ctx, arn, waitMs, (c) => c.Status !== "PENDING_VALIDATION", (left) => `waiting for ACM to validate ${domain} (${cert.Status}; up to ${left} s more)`);
  }
  if (cert.Status !== "ISSUED") throw notIssued(domain, zone, arn, cert, record!);
  const detail = created ? `DNS-validated, in us-east-1, ISSUED` : changes.changed ? changes.list.join(", ") : undefined;
  return { ...changes.report(created, detail), certificateArn: arn };
}

function notIssued(domain: string, zone: string | undefined, arn: string, cert: CertificateDetail, record: DnsRecord): DeployError {
  if (cert.Status === "PENDING_VALIDATION") {
    const where = zone === undefined
      ? `Create this DNS record at your DNS provider: ${show(record)}`
      : `The record ${show(record)} is in hosted zone ${zone}; check that the zone is the one the domain's registrar delegates to`;
    return new DeployError("waiting for", RESOURCE, domain, "CertificatePendingValidation", `${where}. Then run deploy again: it continues once the certificate (${arn}) is ISSUED.`);
  }
  return new DeployError("waiting for", RESOURCE, domain, `Certificate${cert.Status ?? "Unknown"}`, `ACM reports ${cert.Status} (${cert.FailureReason ?? "no reason given"}) for ${arn}. Check the domain name and its DNS, then run deploy again: a new certificate is requested.`);
}

/**
 * Deletes every certificate of the stack (any domain, any status), with its
 * validation record and the domain's alias records when deploy wrote them.
 * Teardown removes the distribution first; a certificate still in use
 * (ResourceInUseException) is kept and the report says what finishes it.
 * https://docs.aws.amazon.com/acm/latest/APIReference/API_DeleteCertificate.html
 */
export async function removeCdnCertificate(ctx: DeployContext): Promise<CdnCertificateReport> {
  const { domain, hostedZoneId: zone } = ctx.config.cdn;
  const certs = await findCdnCertificates(ctx);
  const name = domain ?? certs[0]?.DomainName ?? "(no cdn.domain)";
  if (certs.length === 0) return { resource: RESOURCE, name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, name);
  const inUse: string[] = [];
  for (const c of certs) {
    if (zone !== undefined && domain !== undefined && c.DomainName === domain) {
      await removeCdnAlias(ctx, changes, zone, domain);
      const record = validationRecord(await describe(ctx, c.CertificateArn!));
      const set = record && (await readRecord(ctx, zone, record.name, "CNAME"));
      if (set) await deleteRecord(ctx, changes, zone, set);
    }
    try {
      await changes.apply(`certificate ${c.CertificateArn}`, "acm:DeleteCertificate", () => ignoreAbsent("acm", () => ctx.clients.acm.send(new DeleteCertificateCommand({ CertificateArn: c.CertificateArn }))), "deleting");
    } catch (e) {
      if (!(e instanceof DeployError && e.code === "ResourceInUseException")) throw e;
      inUse.push(c.CertificateArn!);
    }
  }
  if (inUse.length > 0) {
    return { resource: RESOURCE, name, action: "kept", detail: `${inUse.join(", ")} still used by a CloudFront distribution (ResourceInUseException): deleted by the next run once the distribution is deleted or uses another certificate` };
  }
  return { resource: RESOURCE, name, action: "deleted", ...(changes.list.length > 1 ? { detail: changes.list.join(", ") } : {}) };
}
