import { S3Client } from "@aws-sdk/client-s3";

export interface StorageOptions {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  publicBaseUrl: string;
  forcePathStyle: boolean;
  timeoutMs: number;
}

export interface Storage {
  client: S3Client;
  bucket: string;
  publicBaseUrl: string;
  timeoutMs: number;
}

/**
 * An S3 client for R2 or any S3-compatible store. R2 rejects the SDK's default CRC32 checksums
 * (sent since 3.729), so checksums are computed and validated only when an operation requires them.
 */
export function createStorage(options: StorageOptions): Storage {
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 2,
  });
  return { client, bucket: options.bucket, publicBaseUrl: options.publicBaseUrl, timeoutMs: options.timeoutMs };
}
