// "@smithy/core/event-streams" for the deploy bundle (wrangler.toml [alias], mirrored in vitest.config.ts):
// the config resolver S3Client runs at construction, and a marshaller that fails loudly. Event streams
// carry only SelectObjectContent's answer in S3; the Worker never sends it (the commands it bundles are
// scripts/s3-client-build.ts COMMANDS; test/node/bundle-aliases.test.ts checks none has an event stream),
// so the event-stream codec and serde (about 5 KiB gzip) are not shipped.
// JavaScript, because dist-es carries no type declarations.
export { resolveEventStreamSerdeConfig } from "../../node_modules/@smithy/core/dist-es/submodules/event-streams/eventstream-serde-config-resolver/EventStreamSerdeConfig.js";

const unbundled = () => {
  throw new Error("S3 event streams are not in the Worker bundle (scripts/bundle/event-streams.js)");
};

/** What runtimeConfig hands resolveEventStreamSerdeConfig: a marshaller that is never called. */
export const eventStreamSerdeProvider = () => ({ serialize: unbundled, deserialize: unbundled });

/** HttpProtocol imports it only to (de)serialize an event stream. */
export class EventStreamSerde {
  constructor() {
    unbundled();
  }
}
