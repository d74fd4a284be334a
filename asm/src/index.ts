// asm/src/index.ts — the WebAssembly module's exports (layer: asm). Owns nothing itself: each codec
// lives in its own file and is re-exported here. TypeScript reaches these through src/wasm/.
export { resetAll, resetRegion, regionPtr, regionLen, inputBuffer, appendRegion, truncateRegion, reserveRegion } from "./arena";
export * from "./setkey-parse";
export * from "./xfrm-encode";
export * from "./xfrm-decode";
export * from "./setkey-format";
export * from "./ip-format";
export * from "./ip-parse";
export * from "./pfkey-encode";
export * from "./pfkey-decode";
