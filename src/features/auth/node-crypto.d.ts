// The Worker's tsconfig carries the Workers runtime types, not @types/node, yet `nodejs_compat`
// provides node:crypto at run time. This declares the two functions password.ts uses, with
// Node's signatures (under tsconfig.node.json the real @types/node applies instead).
declare module "node:crypto" {
  interface ScryptOptions {
    N?: number;
    r?: number;
    p?: number;
    maxmem?: number;
  }
  export function scrypt(
    password: Uint8Array | string,
    salt: Uint8Array | string,
    keylen: number,
    options: ScryptOptions,
    callback: (err: Error | null, derivedKey: Uint8Array) => void,
  ): void;
  export function timingSafeEqual(a: ArrayBufferView, b: ArrayBufferView): boolean;
}
