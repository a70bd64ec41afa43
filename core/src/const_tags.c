/* const_tags.c — the key and value slots (const_tags.h has the design).
 *
 * The compact bytes in each slot come from the compiler (sizeof of the
 * string), so a slot cannot disagree with its string; test_thrift.c checks
 * them against the generic Tag encoder all the same.
 */
#include "const_tags.h"

#define KEY_SLOT_(id, s) [TWP_K_##id] = { { 0x18, (char)(sizeof(s) - 1) }, s },
#define VAL_SLOT_(id, s) [TWP_V_##id] = { { 0x15, 0x00, 0x18, (char)(sizeof(s) - 1) }, s },

/* one array each, so a slot is recognised by one range test */
const twp_ckey twp_ckeys[TWP_K_COUNT] = { TWP_CONST_KEYS(KEY_SLOT_) };
const twp_cval twp_cvals[TWP_V_COUNT] = { TWP_CONST_VALUES(VAL_SLOT_) };

#define K_FITS_(id, s) _Static_assert(sizeof(s) <= sizeof(((twp_ckey *)0)->str), "key " s " too long");
#define V_FITS_(id, s) _Static_assert(sizeof(s) <= sizeof(((twp_cval *)0)->str), "value " s " too long");
TWP_CONST_KEYS(K_FITS_)
TWP_CONST_VALUES(V_FITS_)
_Static_assert(sizeof(twp_ckey) == TWP_CSLOT && sizeof(twp_cval) == TWP_CSLOT,
               "slots are the encoder's fixed copy size");

