// "@aws-sdk/checksums/flexible-checksums" and "@aws-sdk/checksums/sha" for the deploy bundle
// (wrangler.toml [alias], mirrored in vitest.config.ts). The storage client asks for checksums only
// when an operation requires one (requestChecksumCalculation and responseChecksumValidation are
// WHEN_REQUIRED: R2 rejects the SDK's default CRC32), and none of the operations the Worker sends
// requires one (DeleteObjects, PutBucketLifecycle and the like would). So the SDK never computes or
// validates a CRC32/CRC32C/CRC64NVME/SHA-1 checksum here, and their implementations (about 4 KiB
// gzip) are not shipped. Instead of the checksum middleware, a guard that fails the call before it
// is sent whenever the real middleware would have computed or validated a checksum: a required
// checksum, another calculation mode, a caller-chosen algorithm, or response validation switched on.
// Never a request without a checksum it should have had. test/node/bundle-aliases.test.ts checks the
// operations and the real module's exports this stands in for.
// JavaScript, because dist-es carries no type declarations.
export { resolveFlexibleChecksumsConfig } from "../../node_modules/@aws-sdk/checksums/dist-es/submodules/flexible-checksums/resolveFlexibleChecksumsConfig.js";
import {
  flexibleChecksumsInputMiddleware,
  flexibleChecksumsInputMiddlewareOptions,
} from "../../node_modules/@aws-sdk/checksums/dist-es/submodules/flexible-checksums/flexibleChecksumsInputMiddleware.js";

const unbundled = (what) =>
  new Error(`S3 ${what} checksums are not in the Worker bundle (scripts/bundle/checksums.js)`);

/** The real plugin's options for its build-step middleware (flexibleChecksumsMiddleware.js). */
const guardOptions = { name: "flexibleChecksumsMiddleware", step: "build", tags: ["BODY_CHECKSUM"], override: true };

const checksumGuard =
  (config, { requestChecksumRequired, requestAlgorithmMember, requestValidationModeMember }) =>
  (next) =>
  async (args) => {
    const input = args.input ?? {};
    const calculation = await config.requestChecksumCalculation();
    if (requestChecksumRequired || calculation !== "WHEN_REQUIRED") throw unbundled("request");
    if (requestAlgorithmMember && input[requestAlgorithmMember.name]) throw unbundled("request");
    for (const name of Object.keys(args.request?.headers ?? {}))
      if (name.toLowerCase().startsWith("x-amz-checksum-")) throw unbundled("request");
    // Set by the real input middleware below when responseChecksumValidation is WHEN_SUPPORTED.
    if (requestValidationModeMember && input[requestValidationModeMember] === "ENABLED") throw unbundled("response");
    return next(args);
  };

export const getFlexibleChecksumsPlugin = (config, middlewareConfig) => ({
  applyToStack: (clientStack) => {
    clientStack.add(checksumGuard(config, middlewareConfig), guardOptions);
    clientStack.addRelativeTo(
      flexibleChecksumsInputMiddleware(config, middlewareConfig),
      flexibleChecksumsInputMiddlewareOptions,
    );
  },
});

/** runtimeConfig's default `sha1`, read only by the checksum middleware this replaces. */
export class Sha1 {
  constructor() {
    throw unbundled("SHA-1");
  }
}
