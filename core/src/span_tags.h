/* span_tags.h — fixed-key tags, for the core's own tag sets.
 *
 * tw_span_set_tag copies every key into the record and checks it against the
 * special keys (span.kind, sampling.priority): right for keys an application
 * chooses, wasted for the core's own fixed keys ("http.url", ...), which are
 * string literals that outlive every record. twp_span_tag_fixed writes such
 * tags in one call: keys borrowed (as the sampler tags already are: see
 * span_data.h), string values copied once, straight from their pieces (a URL
 * from scheme, host and target, no temporary). Used by http_span.c; defined
 * in span.c (it writes the record).
 */
#ifndef TW_SPAN_TAGS_H
#define TW_SPAN_TAGS_H

#include "tracewire.h"

typedef struct twp_piece {
    const char *p;                 /* borrowed for the call; may be NULL when n is 0 */
    size_t n;
} twp_piece;

typedef struct twp_fixed_tag {
    const char *key;               /* a string literal: borrowed by the record, never freed */
    uint32_t key_len;
    tw_value_type type;            /* TW_VAL_STRING, TW_VAL_INT64 or TW_VAL_BOOL */
    const twp_piece *parts;        /* STRING: the value, the pieces concatenated */
    size_t nparts;
    int64_t i64;                   /* INT64; BOOL: nonzero is true */
} twp_fixed_tag;

/* Appends the n tags to s's record, string values truncated to
 * max_tag_value_length (never inside a UTF-8 sequence) like any tag. The
 * keys must not be span.kind or sampling.priority (not checked). TW_OK and
 * nothing written for an unsampled span; TW_ERR_FINISHED on a finished one;
 * TW_ERR_NOMEM leaves the record with the tags written before the failure. */
tw_status twp_span_tag_fixed(tw_span *s, const twp_fixed_tag *tags, size_t n);

/* Whether s has a record, i.e. is sampled and unfinished: its tags count. */
int twp_span_records(const tw_span *s);

#endif
