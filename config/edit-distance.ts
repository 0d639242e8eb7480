// Levenshtein distance and the "did you mean" pick built on it, shared by the
// flag names (deploy/cli.ts) and the region check (config/regions.ts). A few
// lines of our own: the only edit-distance package in node_modules
// (fast-levenshtein) is there as eslint's dependency, not ours.

/** Single-character insertions, deletions and substitutions (case-insensitive) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The candidates nearest to `word` (ties all kept, in the candidates' order), with their distance. */
export function nearest(word: string, candidates: readonly string[], distance: (word: string, candidate: string) => number = editDistance): { names: string[]; distance: number } {
  let best = Number.POSITIVE_INFINITY;
  let names: string[] = [];
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < best) [best, names] = [d, [candidate]];
    else if (d === best) names.push(candidate);
  }
  return { names, distance: best };
}
