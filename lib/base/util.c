/* Small helpers with no dependency. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int capstan_strlist_push(capstan_strlist *list, const char *s)
{
	char *copy;

	if (list->count == list->alloc) {
		size_t n = list->alloc ? list->alloc * 2 : 8;
		char **items = realloc(list->items, n * sizeof(*items));
		if (!items)
			return -1;
		list->items = items;
		list->alloc = n;
	}
	if (!(copy = strdup(s)))
		return -1;
	list->items[list->count++] = copy;
	return 0;
}

int capstan_strlist_contains(const capstan_strlist *list, const char *s)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->items[i], s) == 0)
			return 1;
	return 0;
}

char *capstan_strlist_join(const capstan_strlist *list, const char *sep)
{
	size_t len = 1, seplen = strlen(sep);
	char *out, *p;

	for (size_t i = 0; i < list->count; i++)
		len += strlen(list->items[i]) + seplen;
	if (!(out = malloc(len)))
		return NULL;
	p = out;
	for (size_t i = 0; i < list->count; i++) {
		size_t n = strlen(list->items[i]);
		if (i) {
			memcpy(p, sep, seplen);
			p += seplen;
		}
		memcpy(p, list->items[i], n);
		p += n;
	}
	*p = '\0';
	return out;
}

int capstan_strlist_split(capstan_strlist *list, const char *s, char sep)
{
	while (s && *s) {
		const char *end = strchr(s, sep);
		size_t n = end ? (size_t)(end - s) : strlen(s);
		if (n) {
			char *piece = strndup(s, n);
			int rc;
			if (!piece)
				return -1;
			rc = capstan_strlist_push(list, piece);
			free(piece);
			if (rc < 0)
				return -1;
		}
		s = end ? end + 1 : NULL;
	}
	return 0;
}

void capstan_strlist_free(capstan_strlist *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

void capstan_hex_encode(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int capstan_hex_decode(unsigned char *out, size_t len, const char *hex)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hi < 0 ? -1 : hex_digit(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex_digit(hex[2 * len]) < 0 ? 0 : -1;
}

int capstan_equal_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

char *capstan_strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *capstan_aprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *out;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(out = malloc((size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return out;
}

static char *base64_with(const unsigned char *in, size_t len, const char *alphabet, int pad)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			(i + 2 < len ? in[i + 2] : 0);
		*p++ = alphabet[v >> 18 & 63];
		*p++ = alphabet[v >> 12 & 63];
		if (i + 1 < len)
			*p++ = alphabet[v >> 6 & 63];
		else if (pad)
			*p++ = '=';
		if (i + 2 < len)
			*p++ = alphabet[v & 63];
		else if (pad)
			*p++ = '=';
	}
	*p = '\0';
	return out;
}

char *capstan_base64(const unsigned char *in, size_t len)
{
	return base64_with(in, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 1);
}

char *capstan_base64url(const unsigned char *in, size_t len)
{
	return base64_with(in, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 0);
}

int capstan_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int capstan_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int capstan_base64_decode(unsigned char **out, size_t *len, const char *in, size_t in_len)
{
	unsigned char *buf;
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	while (in_len && in[in_len - 1] == '=')
		in_len--;
	if (in_len % 4 == 1 || !(buf = malloc(in_len * 3 / 4 + 1)))
		return -1;
	for (size_t i = 0; i < in_len; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	*out = buf;
	*len = n;
	return 0;
}
