/*
 * A plain C interface over the few ICU calls charlstm needs.
 *
 * ICU renames its C symbols by version (ubrk_open is really ubrk_open_72) through macros Swift
 * cannot import, and Foundation ships its own ICU headers; so this header includes no ICU
 * header and exposes only unversioned names. Text is UTF-16 (ICU's native form); lengths are
 * in UTF-16 code units. Every function reports failure through a negative return value and
 * fills `*status` with the ICU error code (0 on success).
 */
#ifndef CHARLSTM_ICU_H
#define CHARLSTM_ICU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Normalization forms understood by clicu_normalize. */
enum { CLICU_NFC = 1, CLICU_NFKC = 2 };

/**
 * Normalizes `src[0..<srcLen]` into `dest` (capacity `destCap` units).
 * Returns the normalized length; when it exceeds `destCap` nothing useful is written and the
 * caller retries with a buffer of the returned size. Returns -1 on error.
 */
int32_t clicu_normalize(int form, const uint16_t *src, int32_t srcLen, uint16_t *dest,
                        int32_t destCap, int32_t *status);

/**
 * Lowercases with the rules of `locale` ("" for the root locale, "tr" for Turkish, …).
 * Same buffer contract as clicu_normalize.
 */
int32_t clicu_to_lower(const char *locale, const uint16_t *src, int32_t srcLen, uint16_t *dest,
                       int32_t destCap, int32_t *status);

/**
 * A character break iterator to reuse: opening one is costly (ICU loads and clones its rules),
 * setting new text on it is not. Returns NULL on error. Not thread-safe: one per thread or
 * per segmenter. Free with clicu_breaker_close.
 */
void *clicu_breaker_open(int32_t *status);

/**
 * Finds the extended grapheme cluster boundaries (UAX #29, ICU's character break iterator) of
 * `text[0..<len]` with a breaker from clicu_breaker_open. Writes the end offset of every
 * cluster, in order, into `ends` (capacity `endsCap`, which `len` always satisfies). Returns
 * the number of clusters, or -1 on error.
 */
int32_t clicu_breaker_ends(void *breaker, const uint16_t *text, int32_t len, int32_t *ends,
                           int32_t endsCap, int32_t *status);

void clicu_breaker_close(void *breaker);

/** A printable name for an ICU error code (e.g. "U_BUFFER_OVERFLOW_ERROR"). */
const char *clicu_error_name(int32_t status);

/** The ICU version in use, e.g. "72.1". */
const char *clicu_version(void);

#ifdef __cplusplus
}
#endif
#endif
