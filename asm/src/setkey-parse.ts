// asm/src/setkey-parse.ts — placeholder until its owner lands it (layer: asm)
export function setkey_parse_version(): i32 { return 0; }
