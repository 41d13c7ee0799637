/* source.h - placeholder, replaced by the input sources. */
#ifndef DMARCD_SOURCE_H
#define DMARCD_SOURCE_H
#endif
