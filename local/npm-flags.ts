// `npm start --port 3001` gives the flag to npm, not to us: npm hands a script
// only what follows "--", keeps an option it does not know as
// npm_config_port=true, and passes "3001" on as a bare argument (with
// --port=3001, npm_config_port=3001 and nothing at all). Either way the server
// would start on the default port or refuse "3001"; this names the command meant.
// https://docs.npmjs.com/cli/v10/commands/npm-run-script

/** Our flags that npm has no option of its own for (so npm_config_<name> can only come from them), and whether they take a value. */
const OURS: Record<string, boolean> = { port: true, config: true, "data-dir": true, "jwt-issuer": true, "jwt-audience": true, "jwt-scopes": true, "jwt-dev-issuer": false };

/** The hint when npm kept some of our flags, else undefined. */
export function flagsNpmKept(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  if (env.npm_lifecycle_event === undefined) return undefined;
  const kept = Object.keys(OURS).filter((name) => env[`npm_config_${name.replaceAll("-", "_")}`] !== undefined);
  if (kept.length === 0) return undefined;
  const loose = argv.filter((a) => !a.startsWith("-"));
  const meant = kept.map((name) => {
    const value = env[`npm_config_${name.replaceAll("-", "_")}`];
    if (!OURS[name]) return `--${name}`;
    return `--${name} ${value !== undefined && value !== "true" ? value : (loose.shift() ?? "VALUE")}`;
  });
  const rest = argv.filter((a) => a.startsWith("-") || loose.includes(a));
  return `npm kept ${kept.map((n) => `--${n}`).join(", ")} for itself: npm passes a script only the flags after "--". Run: npm start -- ${[...meant, ...rest].join(" ")}`;
}
