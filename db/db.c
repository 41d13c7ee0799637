/* db.c - placeholder */
#include "config.h"
#include "db.h"
int db_placeholder(void);
int db_placeholder(void) { return 0; }
