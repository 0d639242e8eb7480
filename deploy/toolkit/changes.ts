// What a resource's ensure changed, and the one way it sends a change: named
// for the report, wrapped in a DeployError naming the permission, and not
// sent at all in a dry run (the change is still listed, as "would be").
import type { DeployContext, EnsureAction, StepReport } from "../context.ts";
import { step } from "../errors.ts";

export class Changes {
  readonly list: string[] = [];

  constructor(
    private readonly ctx: Pick<DeployContext, "dryRun">,
    readonly resource: string,
    readonly name: string,
  ) {}

  /** Records the change and sends it unless this is a dry run (then resolves undefined). */
  async apply<T>(label: string, permission: string, call: () => Promise<T>, verb = `applying ${label} to`): Promise<T | undefined> {
    this.list.push(label);
    if (this.ctx.dryRun) return undefined;
    return step(verb, this.resource, this.name, permission, call);
  }

  /** Records a change made some other way (a nested ensure). */
  note(label: string): void {
    this.list.push(label);
  }

  get changed(): boolean {
    return this.list.length > 0;
  }

  /** "created" when made by this run, else "updated" or "unchanged" by what was applied. */
  report(created = false, detail?: string): StepReport & { action: EnsureAction } {
    const action: EnsureAction = created ? "created" : this.changed ? "updated" : "unchanged";
    const text = detail ?? (this.changed && !created ? this.list.join(", ") : undefined);
    return { resource: this.resource, name: this.name, action, ...(text ? { detail: text } : {}) };
  }
}
