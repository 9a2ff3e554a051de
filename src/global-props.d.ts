// Lets `exports` from "cloudflare:workers" (used by tests) know the Worker's own exports.
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
    durableNamespaces: "RoomObject";
  }
}
