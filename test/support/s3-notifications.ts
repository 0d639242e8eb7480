// S3's event notifications, emulated for moto (which does not deliver them to
// a function): events as S3 sends them, and an S3 client that announces its
// successful writes under the trigger's prefixes to a handler, asynchronously,
// as an S3 trigger's asynchronous invocation would.
import { CopyObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { S3Event } from "aws-lambda";
import type { LambdaHandler } from "../../function/app.ts";
import { decodeEventKey } from "../../function/s3-events.ts";
import { TRIGGER_PREFIXES } from "../../function/storage/key-layout.ts";
import { MOTO_REGION } from "./moto.ts";

/** The notification filters deploy puts on the bucket, one configuration per prefix. */
export const matches = (key: string) => TRIGGER_PREFIXES.some((prefix) => key.startsWith(prefix));

/** S3's own encoding of keys in notifications: URL-encoded, "+" for a space, "/" kept. */
const encodeEventKey = (key: string) => key.split("/").map((s) => encodeURIComponent(s).replace(/%20/g, "+")).join("/");

/** An ObjectCreated:Put notification as S3 sends it (event structure version 2.1). */
export function s3Event(bucket: string, key: string, size: number, eTag: string, eventName = "ObjectCreated:Put"): S3Event {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: MOTO_REGION,
        eventTime: new Date().toISOString(),
        eventName,
        userIdentity: { principalId: "AWS:AIDAEXAMPLE" },
        requestParameters: { sourceIPAddress: "203.0.113.9" },
        responseElements: { "x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD" },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: "imgapi-resize-on-upload",
          bucket: { name: bucket, ownerIdentity: { principalId: "A3NL1KOZZKExample" }, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encodeEventKey(key), size, eTag: eTag.replace(/"/g, ""), sequencer: Date.now().toString(16).toUpperCase() },
        },
      },
    ],
  };
}

export interface Notifying {
  client: S3Client;
  /** Every PutObject and CopyObject key, in order, and which of them notified the function. */
  puts: string[];
  invocations: string[];
  /** Announces an object written around the client (a presigned PUT), as S3 would. */
  announce(bucket: string, key: string): void;
  /** Resolves once every notification (and those its handling caused) was handled. */
  settled(): Promise<void>;
}

/** Wraps an S3 client so that matching writes notify `deliver`, after they succeed, as S3 does. */
export function notifyingClient(s3: S3Client, deliver: () => LambdaHandler): Notifying {
  const puts: string[] = [];
  const invocations: string[] = [];
  const pending: Promise<unknown>[] = [];
  const send = s3.send.bind(s3) as (command: unknown) => Promise<unknown>;
  const notify = (event: S3Event) =>
    // Delivered asynchronously, after the write answered: an S3 trigger is an async invocation.
    pending.push(
      new Promise((resolve) => setImmediate(resolve)).then(() => {
        invocations.push(decodeEventKey(event.Records[0]!.s3.object.key)!);
        return deliver()(event);
      }),
    );
  const client = new Proxy(s3, {
    get(target, prop, receiver) {
      if (prop !== "send") return Reflect.get(target, prop, receiver) as unknown;
      return async (command: unknown) => {
        const out = await send(command);
        if (command instanceof PutObjectCommand || command instanceof CopyObjectCommand) {
          const key = command.input.Key!;
          puts.push(key);
          const copy = command instanceof CopyObjectCommand;
          const size = copy ? 0 : Buffer.byteLength(command.input.Body as Buffer | string);
          const eTag = (copy ? (out as { CopyObjectResult?: { ETag?: string } }).CopyObjectResult?.ETag : (out as { ETag?: string }).ETag) ?? "";
          if (matches(key)) notify(s3Event(command.input.Bucket!, key, size, eTag, copy ? "ObjectCreated:Copy" : "ObjectCreated:Put"));
        }
        return out;
      };
    },
  });
  return {
    client,
    puts,
    invocations,
    announce: (bucket, key) => notify(s3Event(bucket, key, 1, "e")),
    async settled() {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}
