// The object store signs its own S3 requests (src/adapters/s3-request.ts). Checked here against the
// AWS SDK's own signer (@smithy/signature-v4, what @aws-sdk/client-s3 signs with) on the same
// request and instant: the same Authorization header, the same presigned query. The local S3
// server verifies signatures too (dev/s3-sigv4.ts), but both of those are this project's code.
import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import {
  canonicalUrl,
  EMPTY_PAYLOAD_SHA256,
  S3Signer,
  xmlElements,
  xmlEscape,
  xmlText,
} from "../../src/adapters/s3-request.ts";

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const region = "auto";
const now = new Date("2026-12-01T15:02:03.456Z");

class NodeSha256 {
  readonly #h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined || typeof secret === "string" ? secret : toBytes(secret);
    this.#h = key === undefined ? createHash("sha256") : createHmac("sha256", key);
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.#h.update(typeof data === "string" ? data : toBytes(data));
  }
  async digest() {
    return new Uint8Array(this.#h.digest());
  }
  reset() {}
}

function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

const sdk = new SignatureV4({
  credentials,
  region,
  service: "s3",
  sha256: NodeSha256,
  uriEscapePath: false,
  applyChecksum: false,
});
const ours = new S3Signer({ ...credentials, region });

function sdkRequest(method: string, url: URL, headers: Record<string, string>) {
  return {
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host, ...headers },
  };
}

// Keys with the characters SigV4 encodes differently from encodeURIComponent, spaces and non-ASCII.
const KEYS = ["assets/0b9f7c2e/scan.png", "a b/(c)!*'~.png", "ünïcode/ключ.bin"];
const BASES = ["http://127.0.0.1:9000/bucket", "https://bucket.account.r2.cloudflarestorage.com"];

describe("S3 request signing, against the AWS SDK's signer", () => {
  it("signs header-authenticated requests identically", async () => {
    for (const base of BASES)
      for (const key of KEYS)
        for (const [method, query, extra, payload] of [
          ["PUT", { partNumber: "3", uploadId: "up/+=id" }, { "content-length": "5" }, "ab".repeat(32)],
          ["POST", { uploads: "" }, { "content-type": "image/png" }, EMPTY_PAYLOAD_SHA256],
          ["HEAD", {}, {}, EMPTY_PAYLOAD_SHA256],
        ] as const) {
          const url = canonicalUrl(base, [key], query);
          const headers = await ours.signHeaders(method, url, extra, payload, now);
          const signed = await sdk.sign(sdkRequest(method, url, { ...extra, "x-amz-content-sha256": payload }), {
            signingDate: now,
          });
          expect(headers.authorization).toBe(signed.headers.authorization);
          expect(headers["x-amz-date"]).toBe(signed.headers["x-amz-date"]);
        }
  });

  it("presigns identically, binding exactly the given headers", async () => {
    for (const base of BASES)
      for (const key of KEYS) {
        const url = canonicalUrl(base, [key], { partNumber: "1", uploadId: "x y" });
        const headers = { "content-type": "image/png", "content-length": "1000", "if-none-match": "*" };
        const presigned = new URL(await ours.presign("PUT", url, headers, 600, now));
        const signed = await sdk.presign(
          // As @aws-sdk/s3-request-presigner does: the header in this spelling, hoisted into the query.
          sdkRequest("PUT", url, { ...headers, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD" }),
          { signingDate: now, expiresIn: 600 },
        );
        expect(Object.fromEntries(presigned.searchParams)).toEqual(signed.query);
        expect(presigned.searchParams.get("X-Amz-SignedHeaders")).toBe(
          "content-length;content-type;host;if-none-match",
        );
        expect(presigned.pathname).toBe(signed.path);
      }
  });
});

describe("S3 XML", () => {
  it("reads element text with entities decoded, and escapes what it writes", () => {
    const xml =
      "<R><Upload><Key>a&amp;b&lt;&#x1F600;&#65;</Key><UploadId>u1</UploadId></Upload><Upload><Key>c</Key></Upload></R>";
    const uploads = xmlElements(xml, "Upload");
    expect(uploads).toHaveLength(2);
    expect(xmlText(xmlElements(uploads[0]!, "Key")[0]!)).toBe("a&b<😀A");
    expect(xmlElements(uploads[1]!, "UploadId")).toEqual([]);
    expect(xmlEscape(`"etag"&<>'`)).toBe("&quot;etag&quot;&amp;&lt;&gt;&apos;");
    expect(xmlText(xmlEscape(`"e'&<>`))).toBe(`"e'&<>`);
  });
});
