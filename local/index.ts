// `npm start`: the API on this machine, no AWS account needed. Parses the
// flags, loads the settings, starts the local server and prints how to call
// it; Ctrl-C stops it. Exit codes, as deploy's: 0 done, 1 could not start,
// 2 bad usage or configuration.
// The settings and the server (zod, sharp, the AWS SDK) are imported
// only once the flags are read: loading them takes about a second, which a
// terminal is told about, and --help or a usage error need none of it.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import type { RuntimeSettings } from "../config/schema.ts";
import { UsageError } from "../config/usage-error.ts";
import { API_KEY_ENV, apiKeyFrom } from "./api-key.ts";
import { banner } from "./banner.ts";
import { jwtIssuer, parseJwtFlags, type JwtFlags, type LocalIssuer } from "./jwt-flags.ts";
import { ACCESS_KEY_ID_ENV, credentialsFrom, SECRET_ACCESS_KEY_ENV } from "./sigv4.ts";
import { DEMO_PATH } from "./demo-server.ts";
import { flagsNpmKept } from "./npm-flags.ts";

const usage = (defaultPort: number) => `Usage: npm start -- [options]

Runs the image API on http://127.0.0.1: the Lambda handler behind a stand-in
for API Gateway (routes, API key, binary media types), with a local S3 keeping
images between runs (it answers only the handler and the URLs it presigns). A demo page to try it in a browser is
served on the same port under ${DEMO_PATH} (with no key needed to open it).

Options:
  --port <n>         port to listen on (default $PORT, else ${defaultPort}; 0 picks a free one)
  --config <path>    config file for sizes, formats and limits
                     (default ./config.json when present, else built-in defaults)
  --data-dir <path>  where the local S3 keeps its objects (default .local/s3)
  --auth <mode>      apiKey (default): private routes need the x-api-key header;
                     iam: they need a SigV4 signature (execute-api, us-east-1)
                     by the key pair printed (the public route needs neither);
                     jwt: a bearer token of --jwt-issuer, checked as deployed
  --jwt-issuer <url> with --auth jwt, the OIDC issuer (https, or loopback http)
  --jwt-audience <s> with --auth jwt, the audience tokens must name
  --jwt-scopes <r,w> with --auth jwt, the read and write scopes (optional)
  --jwt-dev-issuer   start a local OIDC issuer too (implies --auth jwt) and print
                     a token for it: try the jwt mode in one minute
  --json             print one JSON line {"url","apiKey","bucket"} (with --auth iam
                     also "auth","accessKeyId","secretAccessKey") instead of the
                     banner, and nothing else on stdout; request logs then go
                     to stderr (the demo page is at url + "${DEMO_PATH}")
  -h, --help         show this help

Exit codes: 0 stopped cleanly, 1 could not start, 2 bad usage or configuration.

Environment:
  ${API_KEY_ENV}            the x-api-key to require (default: a random one per start)
  ${ACCESS_KEY_ID_ENV}, ${SECRET_ACCESS_KEY_ENV}
                     with --auth iam, the key pair to require (default: a
                     random one per start)
  PORT               as --port
  NO_COLOR           no colours even on a terminal (there are none when stdout is
                     not a terminal)
`;

interface Cli {
  help: boolean;
  json: boolean;
  /** Undefined: the server's default. */
  port?: number;
  config?: string;
  dataDir?: string;
  auth: "apiKey" | "iam" | "jwt";
  jwt?: JwtFlags;
}

function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new UsageError(`Expected an integer from 0 to 65535 for ${what} but received ${JSON.stringify(text)}`);
  }
  return port;
}

function parseCli(argv: string[], env: NodeJS.ProcessEnv): Cli {
  const npmKept = flagsNpmKept(argv, env);
  if (npmKept !== undefined) throw new UsageError(npmKept);
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        config: { type: "string" },
        "data-dir": { type: "string" },
        auth: { type: "string" },
        "jwt-issuer": { type: "string" },
        "jwt-audience": { type: "string" },
        "jwt-scopes": { type: "string" },
        "jwt-dev-issuer": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    // parseArgs goes on about positional arguments after its first sentence.
    throw new UsageError((e as Error).message.split(". ")[0]!);
  }
  const port = values.port !== undefined ? parsePort(values.port, "--port") : env.PORT ? parsePort(env.PORT, "$PORT") : undefined;
  const auth = values.auth ?? (values["jwt-dev-issuer"] ? "jwt" : "apiKey");
  if (auth !== "apiKey" && auth !== "iam" && auth !== "jwt") {
    throw new UsageError(`Expected apiKey, iam or jwt for --auth but received ${JSON.stringify(auth)}`);
  }
  const jwt = auth === "jwt" ? parseJwtFlags(values) : undefined;
  if (auth !== "jwt" && (values["jwt-issuer"] ?? values["jwt-audience"] ?? values["jwt-scopes"]) !== undefined) {
    throw new UsageError(`--jwt-issuer, --jwt-audience and --jwt-scopes go with --auth jwt, not --auth ${auth}`);
  }
  return {
    help: values.help,
    json: values.json,
    auth,
    ...(jwt === undefined ? {} : { jwt }),
    ...(port === undefined ? {} : { port }),
    ...(values.config === undefined ? {} : { config: values.config }),
    ...(values["data-dir"] === undefined ? {} : { dataDir: values["data-dir"] }),
  };
}

async function loadSettings(configPath: string | undefined): Promise<{ settings: RuntimeSettings; source: string }> {
  const { loadConfig } = await import("../config/load.ts");
  const { runtimeSettingsOf, settingsFromEnv } = await import("../config/runtime-env.ts");
  if (configPath !== undefined) return { settings: runtimeSettingsOf(loadConfig(configPath)), source: configPath };
  if (existsSync("config.json")) return { settings: runtimeSettingsOf(loadConfig("config.json")), source: "config.json" };
  return { settings: settingsFromEnv({}), source: "built-in defaults" };
}

/**
 * A step that can take a second or more: on a terminal, its title shows while
 * it runs and is wiped when it ends (the banner or the error says the rest).
 * Not a terminal: nothing, so scripts read only the JSON line and the logs.
 */
async function step<T>(title: string, run: () => Promise<T>): Promise<T> {
  const tty = process.stderr.isTTY === true;
  if (tty) process.stderr.write(`${title}...`);
  try {
    return await run();
  } finally {
    if (tty) process.stderr.write("\r\x1b[K");
  }
}

async function main(argv: string[]): Promise<number | undefined> {
  let cli: Cli;
  try {
    cli = parseCli(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\nRun npm start -- --help for the options.`);
    return 2;
  }
  if (cli.help) {
    const { DEFAULT_PORT } = await import("./server.ts");
    process.stdout.write(usage(DEFAULT_PORT));
    return 0;
  }

  let loaded;
  try {
    loaded = await step("Reading the settings", () => loadSettings(cli.config));
  } catch (e) {
    const { ConfigError } = await import("../config/load.ts");
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return 2;
  }
  const log = cli.json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => console.log(line);
  let server;
  let issuer: LocalIssuer | undefined;
  try {
    server = await step("Starting the API and its local S3 (loading sharp and the AWS SDK)", async () => {
      const { startLocalServer } = await import("./server.ts");
      issuer = cli.jwt === undefined ? undefined : await jwtIssuer(cli.jwt);
      return startLocalServer({
        apiKey: apiKeyFrom(process.env),
        auth: cli.auth,
        ...(cli.auth === "iam" ? { credentials: credentialsFrom(process.env) } : {}),
        ...(issuer === undefined ? {} : { jwt: { issuer: issuer.issuer, audience: issuer.audience, ...(cli.jwt?.scopes === undefined ? {} : { scopes: cli.jwt.scopes }) } }),
        settings: loaded.settings,
        log,
        ...(cli.port === undefined ? {} : { port: cli.port }),
        ...(cli.dataDir === undefined ? {} : { dataDir: cli.dataDir }),
      });
    });
  } catch (e) {
    await issuer?.close?.();
    console.error(`starting the local server: ${(e as Error).message}`);
    return 1;
  }
  const callerAuth = issuer !== undefined ? { mode: "jwt" as const, issuer: issuer.issuer, audience: issuer.audience, ...(issuer.token === undefined ? {} : { token: issuer.token }) } : server.credentials === undefined ? { mode: "apiKey" as const, apiKey: server.apiKey } : { mode: "iam" as const, credentials: server.credentials };

  if (cli.json) {
    const iam = server.credentials === undefined ? {} : { auth: server.auth, accessKeyId: server.credentials.accessKeyId, secretAccessKey: server.credentials.secretAccessKey };
    const jwt = issuer === undefined ? {} : { auth: server.auth, issuer: issuer.issuer, audience: issuer.audience, ...(issuer.token === undefined ? {} : { token: issuer.token }) };
    console.log(JSON.stringify({ url: server.url, apiKey: server.apiKey, bucket: server.bucket, ...iam, ...jwt }));
  } else {
    // https://no-color.org: set and not empty turns colours off.
    const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === "";
    process.stdout.write(
      banner(
        {
          url: server.url,
          demoUrl: server.demoUrl,
          auth: callerAuth,
          bucket: server.bucket,
          s3Endpoint: server.s3.endpoint,
          dataDir: server.s3.dataDir,
          settingsSource: loaded.source,
          settings: loaded.settings,
        },
        colour,
      ),
    );
  }

  let stopping = false;
  const stop = () => {
    // A second Ctrl-C does not wait for requests in flight.
    if (stopping) process.exit(130);
    stopping = true;
    console.error("Stopping (Ctrl-C again to force)...");
    Promise.all([server.close(), issuer?.close?.()]).then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`stopping the local server: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  },
);
