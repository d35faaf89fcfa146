/**
 * Limits shared by the schema (what a configuration may ask for) and the
 * runtime (what it can hold), so that a configuration `mcr config check`
 * accepts can always be applied. No imports: the data plane reads it too.
 */

/** Most rules: each needs a counter slot in every worker's rule block. */
export const MAX_RULES = 16384;
/** Most outputs over all rules: each needs a counter slot in every worker's output block. */
export const MAX_OUTPUTS = 65536;
