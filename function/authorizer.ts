// The Lambda authorizer's entry (bundled on its own as authorizer.mjs): its
// settings are read and checked once per cold start, and the verifier, with
// its cached key set, lives as long as the container. Neither zod nor sharp is
// reached from here (test/jwt-authorizer-entry.test.ts holds it to that).
import { jwtSettingsFromEnv } from "./auth/authorizer-env.ts";
import { createAuthorizer } from "./auth/token-authorizer.ts";

// Importing this module reads the environment: tests and local mode import the
// factory from ./auth/token-authorizer.ts instead.
export { createAuthorizer };

export const handler = createAuthorizer(jwtSettingsFromEnv(process.env));
