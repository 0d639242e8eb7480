// moto with an S3 client for one test file (or one describe block): started
// before its tests, stopped after them. motoWithBucket adds `fresh()`, which
// empties the emulator and makes the bucket again, so each test starts from
// the same state.
import { after, before } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { s3ClientConfig, startMoto, type Moto } from "./moto.ts";

export interface MotoS3 {
  readonly moto: Moto;
  readonly s3: S3Client;
}

export interface MotoBucket extends MotoS3 {
  fresh(): Promise<void>;
}

export function motoWithS3(): MotoS3 {
  let moto: Moto | undefined;
  let s3: S3Client | undefined;
  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
  });
  after(async () => {
    s3?.destroy();
    await moto?.stop();
  });
  return {
    get moto() {
      return moto!;
    },
    get s3() {
      return s3!;
    },
  };
}

export function motoWithBucket(bucket: string): MotoBucket {
  const aws = motoWithS3();
  return {
    get moto() {
      return aws.moto;
    },
    get s3() {
      return aws.s3;
    },
    async fresh() {
      await aws.moto.reset();
      await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    },
  };
}
