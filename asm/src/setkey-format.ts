// asm/src/setkey-format.ts — placeholder until its owner lands it (layer: asm)
export function setkey_format_version(): i32 { return 0; }
