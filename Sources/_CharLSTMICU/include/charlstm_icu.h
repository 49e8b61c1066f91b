#ifndef CHARLSTM_ICU_H
#define CHARLSTM_ICU_H
int clicu_placeholder(void);
#endif
