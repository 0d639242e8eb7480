// The named profiles of the shared AWS config and credentials files, read as
// the SDK and the AWS CLI read them (AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE move them), so a mistyped --profile is a usage
// error naming the profiles there rather than the SDK's "Could not load
// credentials from any providers".
// https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export function sharedFiles(env: NodeJS.ProcessEnv = process.env): { config: string; credentials: string } {
  return {
    config: env.AWS_CONFIG_FILE ?? join(homedir(), ".aws", "config"),
    credentials: env.AWS_SHARED_CREDENTIALS_FILE ?? join(homedir(), ".aws", "credentials"),
  };
}

/** Profile names: "[profile NAME]" and "[default]" in the config file, "[NAME]" in the credentials file. */
export function knownProfiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const files = sharedFiles(env);
  const names = new Set<string>();
  for (const [file, inConfig] of [[files.config, true], [files.credentials, false]] as const) {
    if (!existsSync(file)) continue;
    for (const [, section = ""] of readFileSync(file, "utf8").matchAll(/^\s*\[\s*([^\]]+?)\s*\]\s*$/gm)) {
      if (!inConfig) names.add(section);
      else if (section === "default") names.add(section);
      else if (/^profile\s+/.test(section)) names.add(section.replace(/^profile\s+/, ""));
    }
  }
  return [...names].sort();
}
