// What changes when the suite runs in CI (.ci/run exports CI=1): a missing
// prerequisite fails its test rather than skipping it, and property tests use
// a fixed seed, so a red CI run is a real finding that reproduces. Outside CI
// the seed is random (more inputs over time) and printed for FC_SEED.
export const inCi = (process.env.CI ?? "") !== "" && process.env.CI !== "false";

/** FC_SEED when given; in CI a fixed seed; otherwise a random one. */
export const propertySeed = (): number => Number(process.env.FC_SEED ?? (inCi ? 20_261_127 : Math.floor(Math.random() * 2 ** 31)));
