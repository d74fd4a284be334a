// asm/src/xfrm-decode.ts — placeholder until its owner lands it (layer: asm)
export function xfrm_decode_version(): i32 { return 0; }
