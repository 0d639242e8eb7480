// `npm start`: the API on this machine, no AWS account needed. Parses the
// flags, loads the settings, starts the local server and prints how to call
// it; Ctrl-C stops it. Exit codes: 0 done, 1 could not start, 2 bad usage.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/load.ts";
import { runtimeSettingsOf, settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { API_KEY_ENV, apiKeyFrom } from "./api-key.ts";
import { banner } from "./banner.ts";
import { DEFAULT_PORT, startLocalServer } from "./server.ts";

const USAGE = `Usage: npm start -- [options]

Runs the image API on http://127.0.0.1: the Lambda handler behind a stand-in
for API Gateway (routes, API key, binary media types), with an embedded S3
(s3rver) keeping images between runs.

Options:
  --port <n>         port to listen on (default $PORT, else ${DEFAULT_PORT}; 0 picks a free one)
  --config <path>    config file for sizes, formats and limits
                     (default ./config.json when present, else built-in defaults)
  --data-dir <path>  where the embedded S3 keeps its objects (default .local/s3)
  --json             print one JSON line {"url","apiKey","bucket"} instead of the
                     banner; request logs then go to stderr
  -h, --help         show this help

Environment:
  ${API_KEY_ENV}            the x-api-key to require (default: a random one per start)
  PORT               as --port
`;

class UsageError extends Error {
  override readonly name = "UsageError";
}

interface Cli {
  help: boolean;
  json: boolean;
  port: number;
  config?: string;
  dataDir?: string;
}

function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new UsageError(`Expected an integer from 0 to 65535 for ${what} but received ${JSON.stringify(text)}`);
  }
  return port;
}

function parseCli(argv: string[], env: NodeJS.ProcessEnv): Cli {
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
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    // parseArgs goes on about positional arguments after its first sentence.
    throw new UsageError((e as Error).message.split(". ")[0]!);
  }
  const port =
    values.port !== undefined ? parsePort(values.port, "--port") : env.PORT ? parsePort(env.PORT, "$PORT") : DEFAULT_PORT;
  return {
    help: values.help,
    json: values.json,
    port,
    ...(values.config === undefined ? {} : { config: values.config }),
    ...(values["data-dir"] === undefined ? {} : { dataDir: values["data-dir"] }),
  };
}

function loadSettings(configPath: string | undefined): { settings: RuntimeSettings; source: string } {
  if (configPath !== undefined) return { settings: runtimeSettingsOf(loadConfig(configPath)), source: configPath };
  if (existsSync("config.json")) return { settings: runtimeSettingsOf(loadConfig("config.json")), source: "config.json" };
  return { settings: settingsFromEnv({}), source: "built-in defaults" };
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
    process.stdout.write(USAGE);
    return 0;
  }

  let loaded;
  try {
    loaded = loadSettings(cli.config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return 1;
  }
  const log = cli.json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => console.log(line);
  let server;
  try {
    server = await startLocalServer({
      port: cli.port,
      apiKey: apiKeyFrom(process.env),
      settings: loaded.settings,
      log,
      ...(cli.dataDir === undefined ? {} : { dataDir: cli.dataDir }),
    });
  } catch (e) {
    console.error(`starting the local server: ${(e as Error).message}`);
    return 1;
  }

  if (cli.json) {
    console.log(JSON.stringify({ url: server.url, apiKey: server.apiKey, bucket: server.bucket }));
  } else {
    const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
    process.stdout.write(
      banner(
        {
          url: server.url,
          apiKey: server.apiKey,
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
    server.close().then(
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
