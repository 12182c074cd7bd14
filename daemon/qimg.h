/* Reading qemu-img's output: the progress that `qemu-img convert -p`
 * prints ("    (12.34/100%)\r" again and again) and the volume sizes the
 * user types ("10G", "512M", "1073741824"). */
#ifndef VMD_DAEMON_QIMG_H
#define VMD_DAEMON_QIMG_H

#include <stddef.h>
#include <stdint.h>

/* The last complete percentage in buf[0..len) (0 to 100), or -1 when
 * there is none.  *used says how many bytes were read up to and with that
 * one, so a caller can drop them and keep a partial tail. */
double qimg_parse_progress(const char *buf, size_t len, size_t *used);

/* A size: bytes, or a number with K, M, G, T (powers of 1024, an optional
 * "iB" or "B" after it).  -1 when s is not one, or above 2^62. */
int64_t qimg_parse_size(const char *s);

#endif
