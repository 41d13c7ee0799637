/* db.h - placeholder */
#ifndef DMARCD_DB_H
#define DMARCD_DB_H
#endif
