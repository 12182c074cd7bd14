/* Base64 encoding and decoding, RFC 4648 alphabet with '=' padding. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? alphabet[v & 63] : '=';
	}
	*o = 0;
	return out;
}

static int value_of(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

void *base64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text);
	unsigned char *out, *o;

	if (n % 4)
		return NULL;
	if (!(out = malloc(n / 4 * 3 + 1)))
		return NULL;
	o = out;
	for (size_t i = 0; i < n; i += 4) {
		int pad = (text[i + 2] == '=') + (text[i + 3] == '=');
		int a = value_of(text[i]), b = value_of(text[i + 1]);
		int c = pad >= 2 ? 0 : value_of(text[i + 2]);
		int d = pad >= 1 ? 0 : value_of(text[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0 ||
		    (pad && i + 4 != n) || (pad == 1 && text[i + 2] == '=')) {
			free(out);
			return NULL;
		}
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		*o++ = (unsigned char)(v >> 16);
		if (pad < 2)
			*o++ = (unsigned char)(v >> 8);
		if (pad < 1)
			*o++ = (unsigned char)v;
	}
	*len = (size_t)(o - out);
	return out;
}
