// asm/src/xfrm-encode.ts — placeholder until its owner lands it (layer: asm)
export function xfrm_encode_version(): i32 { return 0; }
