/* source.c - placeholder */
#include "config.h"
#include "source.h"
int source_placeholder(void);
int source_placeholder(void) { return 0; }
