// Ranges of the reference's integer types (u64 is bounded by what a JS number
// holds exactly: Number.MAX_SAFE_INTEGER).

/** Largest `u32`: `cursor_page`, `schema_version`. */
export const U32_MAX = 4_294_967_295;

/** Largest `u8`: `chain_depth`. */
export const U8_MAX = 255;
