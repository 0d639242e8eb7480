// The stack's tags as each service wants them, and which of them a resource
// lacks. Tagging only adds: tags someone else put on a resource are kept.

type TagList = ReadonlyArray<{ Key?: string; Value?: string } | { TagKey?: string; TagValue?: string }>;

/** Tags as a plain map, whatever shape the service returns them in (map, Key/Value or TagKey/TagValue list). */
export function tagMap(tags: Record<string, string | undefined> | TagList | undefined): Record<string, string> {
  if (tags === undefined) return {};
  if (!Array.isArray(tags)) return Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => e[1] !== undefined));
  return Object.fromEntries(
    (tags as TagList).map((t) => ("TagKey" in t ? [t.TagKey ?? "", t.TagValue ?? ""] : [(t as { Key?: string }).Key ?? "", (t as { Value?: string }).Value ?? ""])),
  );
}

/** The desired tags the resource does not carry with the desired value. */
export function missingTags(actual: Parameters<typeof tagMap>[0], desired: Record<string, string>): Record<string, string> {
  const have = tagMap(actual);
  return Object.fromEntries(Object.entries(desired).filter(([k, v]) => have[k] !== v));
}

export const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
export const kmsTagList = (tags: Record<string, string>) => Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
