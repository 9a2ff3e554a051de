import { S3Client } from "@aws-sdk/client-s3";
import type { StorageOptions } from "../../../src/adapters/storage.ts";

/**
 * The AWS SDK's client on the test bucket, for tests that look at the store behind the service's
 * back (listing objects and multipart uploads). The service signs its own requests
 * (src/adapters/s3-request.ts); the SDK is not part of it. R2 rejects the SDK's default CRC32
 * checksums (sent since 3.729), so checksums are computed and validated only when required.
 */
export function createS3Client(options: Omit<StorageOptions, "bucket" | "publicBaseUrl" | "timeoutMs">): S3Client {
  return new S3Client({
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 2,
  });
}
