#ifndef CHARLSTM_CORPUS_H
#define CHARLSTM_CORPUS_H
/* The default corpus (corpora/tinyshakespeare.txt), compiled into the binary. */
#include <stddef.h>
const unsigned char *clk_default_corpus(size_t *length);
#endif
