// moto for one test file with an S3 client and one bucket: started before the
// file's tests, stopped after them; `fresh()` empties the emulator and makes
// the bucket again, so each test starts from the same state.
import { after, before } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { s3ClientConfig, startMoto, type Moto } from "./moto.ts";

export interface MotoBucket {
  readonly moto: Moto;
  readonly s3: S3Client;
  fresh(): Promise<void>;
}

export function motoWithBucket(bucket: string): MotoBucket {
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
    async fresh() {
      await moto!.reset();
      await s3!.send(new CreateBucketCommand({ Bucket: bucket }));
    },
  };
}
