/* Base64 (RFC 4648, with padding) for raw bytes inside JSON: console logs
 * travel as base64 strings in console-read. */
#ifndef VMD_RPC_BASE64_H
#define VMD_RPC_BASE64_H

#include <stddef.h>

/* malloc'd, NUL-terminated; NULL on ENOMEM. */
char *base64_encode(const void *data, size_t len);
/* Decodes into a malloc'd buffer (*len bytes); NULL on bad input or
 * ENOMEM.  Whitespace is not accepted. */
void *base64_decode(const char *text, size_t *len);

#endif
