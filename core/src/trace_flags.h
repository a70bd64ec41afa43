/* trace_flags.h — private: where the W3C trace-flags byte lives in the
 * flags word of contexts (tw_span_context.flags) and records
 * (twp_span_data.flags).
 *
 * Jaeger's flags keep bits 0..7 (0x01 sampled, 0x02 debug). W3C's
 * trace-flags byte has its own bit 0x02 ("random", Trace Context Level 2)
 * and five more bits reserved for future use, which a participant must pass
 * on unchanged: they ride in bits 8..15 of the same word, exactly as
 * received minus the sampled bit (which is TW_FLAG_SAMPLED), so a
 * traceparent that came in with 03 goes out with 03 and children inherit
 * it. Everything that prints Jaeger flags masks with TWP_FLAG_JAEGER_MASK.
 * The binary context format (tw_span_context_to_binary) has one flags byte
 * and keeps the Jaeger flags only.
 */
#ifndef TW_TRACE_FLAGS_H
#define TW_TRACE_FLAGS_H

#include "tracewire.h"

#define TWP_FLAG_W3C_SHIFT   8u
#define TWP_FLAG_W3C_MASK    (0xFEu << TWP_FLAG_W3C_SHIFT)
#define TWP_FLAG_JAEGER_MASK 0xFFu

/* The W3C trace-flags byte of a context/record flags word. */
static inline unsigned twp_w3c_trace_flags(unsigned flags)
{
    return (flags & TW_FLAG_SAMPLED) | ((flags & TWP_FLAG_W3C_MASK) >> TWP_FLAG_W3C_SHIFT);
}

/* The flags word for a received W3C trace-flags byte. */
static inline unsigned twp_flags_from_w3c(unsigned trace_flags)
{
    return ((trace_flags & 0x01u) ? TW_FLAG_SAMPLED : 0) |
           ((trace_flags & 0xFEu) << TWP_FLAG_W3C_SHIFT);
}

#endif /* TW_TRACE_FLAGS_H */
