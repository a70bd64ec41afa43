/* crc32.c — IEEE CRC-32 (zlib's), the checksum of the queue envelope.
 *
 * Where the CPU has carry-less multiply (x86-64 PCLMULQDQ, detected at run
 * time), whole 16-byte blocks of inputs of 64 bytes or more are folded with
 * it — the method of Intel's white paper "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction" (Gopal et al., 2009), with its
 * published constants for this polynomial — and the tail goes through a
 * slice-by-8 table. A typical envelope (~160 bytes) then costs about 90
 * instructions instead of about 600. Tables and the CPU check are set up
 * once, on first use (pthread_once), so concurrent first calls are safe. */
#include "envelope.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TW_HAVE_CLMUL 1
#endif

static uint32_t crc_tab[8][256];
static int crc_clmul;       /* set once in crc_init: the CPU folds with PCLMULQDQ */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
#ifdef TW_HAVE_CLMUL
    __builtin_cpu_init();
    crc_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

/* The slice-by-8 table loop on the running (inverted) state. */
static uint32_t crc_table(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
                             | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16
                      | (uint32_t)p[7] << 24;
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff]
              ^ crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff]
              ^ crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#ifdef TW_HAVE_CLMUL
/* One fold: x (128 bits of remainder) times x^a and x^b (the two constants in
 * k), plus the next 16 bytes. */
__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold16(__m128i x, __m128i k, __m128i next)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The running (inverted) state over len bytes: len >= 64, a multiple of 16.
 * Folds four lanes of 16 bytes while 64 more remain, then one lane, then
 * reduces 128 -> 64 -> 32 bits and ends with a Barrett reduction. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc_clmul_blocks(uint32_t crc, const unsigned char *p, size_t len)
{
    /* constants for the reflected polynomial 0x1DB710641 (x^n mod P, bit-reflected, shifted) */
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);   /* fold by 512 bits */
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);   /* fold by 128 bits */
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);                 /* 64 -> 32 bits */
    const __m128i pu = _mm_set_epi64x(0x1f7011641LL, 0x1db710641LL);     /* P', mu' (Barrett) */
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);

    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)crc));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    len -= 64;
    while (len >= 64) {
        x0 = fold16(x0, k1k2, _mm_loadu_si128((const __m128i *)p));
        x1 = fold16(x1, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold16(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold16(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    __m128i x = fold16(x0, k3k4, x1);
    x = fold16(x, k3k4, x2);
    x = fold16(x, k3k4, x3);
    while (len >= 16) {
        x = fold16(x, k3k4, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    /* 128 -> 64 bits: low half times k4, plus the high half */
    x = _mm_xor_si128(_mm_clmulepi64_si128(x, k3k4, 0x10), _mm_srli_si128(x, 8));
    /* 64 -> 32 bits: low 32 bits times k5, plus the rest */
    x = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask32), k5, 0x00),
                      _mm_srli_si128(x, 4));
    /* Barrett reduction to the 32-bit remainder */
    __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), pu, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), pu, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(t, x), 1);
}
#endif

uint32_t tw_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#ifdef TW_HAVE_CLMUL
    if (crc_clmul && len >= 64) {
        size_t n = len & ~(size_t)15;
        crc = crc_clmul_blocks(crc, p, n);
        p += n;
        len -= n;
    }
#endif
    return ~crc_table(crc, p, len);
}

/* The table path alone (tests compare the two). */
uint32_t twp_crc32_portable(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_table(~crc, buf, len);
}
