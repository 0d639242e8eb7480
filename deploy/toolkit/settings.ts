// A resource as a table of settings: each one read, compared with what the
// configuration wants, and written only when it differs. A resource made by a
// run that stopped before finishing it is finished by the next, one setting at
// a time, and a second run writes nothing.
import { step } from "../errors.ts";
import type { Changes } from "./changes.ts";

export interface Setting {
  /** How the report names it: "policy", "rotation". */
  field: string;
  /** The IAM action that reads it, named when AWS refuses the read. */
  readPermission: string;
  /** The IAM action that writes it. */
  permission: string;
  /** Whether the resource already has it. Not called for a resource this run just made. */
  matches(): Promise<boolean>;
  write(): Promise<unknown>;
}

/**
 * Brings every setting to its desired value through `changes` (so a dry run
 * lists them without sending). For a resource just created nothing is read:
 * every setting is written.
 */
export async function reconcileSettings(changes: Changes, settings: Setting[], opts: { justCreated?: boolean } = {}): Promise<void> {
  for (const setting of settings) {
    if (!opts.justCreated) {
      const ok = await step("reading the settings of", changes.resource, changes.name, setting.readPermission, () => setting.matches());
      if (ok) continue;
    }
    await changes.apply(setting.field, setting.permission, () => setting.write(), `setting the ${setting.field} of`);
  }
}
