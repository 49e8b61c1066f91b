/* The only file that includes ICU's headers (Debian libicu-dev). See charlstm_icu.h. */
#include "charlstm_icu.h"

#include <stdio.h>
#include <unicode/ubrk.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/uversion.h>

int32_t clicu_normalize(int form, const uint16_t *src, int32_t srcLen, uint16_t *dest,
                        int32_t destCap, int32_t *status) {
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2 *norm =
      form == CLICU_NFKC ? unorm2_getNFKCInstance(&err) : unorm2_getNFCInstance(&err);
  if (U_FAILURE(err)) {
    *status = err;
    return -1;
  }
  int32_t n = unorm2_normalize(norm, (const UChar *)src, srcLen, (UChar *)dest, destCap, &err);
  if (err == U_BUFFER_OVERFLOW_ERROR || err == U_STRING_NOT_TERMINATED_WARNING) err = U_ZERO_ERROR;
  *status = err;
  return U_FAILURE(err) ? -1 : n;
}

int32_t clicu_to_lower(const char *locale, const uint16_t *src, int32_t srcLen, uint16_t *dest,
                       int32_t destCap, int32_t *status) {
  UErrorCode err = U_ZERO_ERROR;
  int32_t n = u_strToLower((UChar *)dest, destCap, (const UChar *)src, srcLen, locale, &err);
  if (err == U_BUFFER_OVERFLOW_ERROR || err == U_STRING_NOT_TERMINATED_WARNING) err = U_ZERO_ERROR;
  *status = err;
  return U_FAILURE(err) ? -1 : n;
}

void *clicu_breaker_open(int32_t *status) {
  UErrorCode err = U_ZERO_ERROR;
  UBreakIterator *it = ubrk_open(UBRK_CHARACTER, "", NULL, 0, &err);
  *status = err;
  return U_FAILURE(err) ? NULL : it;
}

int32_t clicu_breaker_ends(void *breaker, const uint16_t *text, int32_t len, int32_t *ends,
                           int32_t endsCap, int32_t *status) {
  UErrorCode err = U_ZERO_ERROR;
  *status = 0;
  if (len == 0) return 0;
  UBreakIterator *it = (UBreakIterator *)breaker;
  ubrk_setText(it, (const UChar *)text, len, &err);
  if (U_FAILURE(err)) {
    *status = err;
    return -1;
  }
  int32_t count = 0;
  ubrk_first(it);
  for (int32_t pos = ubrk_next(it); pos != UBRK_DONE; pos = ubrk_next(it)) {
    if (count >= endsCap) {
      *status = U_BUFFER_OVERFLOW_ERROR;
      return -1;
    }
    ends[count++] = pos;
  }
  return count;
}

void clicu_breaker_close(void *breaker) {
  if (breaker) ubrk_close((UBreakIterator *)breaker);
}

const char *clicu_error_name(int32_t status) { return u_errorName((UErrorCode)status); }

const char *clicu_version(void) {
  static char buf[U_MAX_VERSION_STRING_LENGTH];
  UVersionInfo v;
  u_getVersion(v);
  u_versionToString(v, buf);
  return buf;
}
