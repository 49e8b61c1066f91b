#include "charlstm_icu.h"
int clicu_placeholder(void) { return 0; }
