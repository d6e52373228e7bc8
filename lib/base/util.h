/* Small helpers with no dependency: strings, string lists, hex. */
#ifndef CAPSTAN_LIB_UTIL_H
#define CAPSTAN_LIB_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A growable list of owned strings. */
typedef struct {
	char **items;
	size_t count;
	size_t alloc;
} capstan_strlist;

int capstan_strlist_push(capstan_strlist *list, const char *s);
int capstan_strlist_contains(const capstan_strlist *list, const char *s);
/* Joins with sep into a new string (caller frees); "" for an empty list. */
char *capstan_strlist_join(const capstan_strlist *list, const char *sep);
/* Splits s on sep into list; empty pieces are skipped. */
int capstan_strlist_split(capstan_strlist *list, const char *s, char sep);
void capstan_strlist_free(capstan_strlist *list);

/* write(2) until done, through EINTR: 0, or -1 with errno set. */
int capstan_write_all(int fd, const void *data, size_t len);
/* fsync(2) a directory, so a rename in it is durable. 0, or -1. */
int capstan_fsync_dir(const char *dir);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void capstan_hex_encode(char *out, const unsigned char *in, size_t len);

/* len bytes from exactly 2*len hex digits (either case) at hex: 0, or -1
 * when they are not that. */
int capstan_hex_decode(unsigned char *out, size_t len, const char *hex);
/* Whether a and b hold the same len bytes, in time that does not depend on
 * where they differ (for MACs). */
int capstan_equal_ct(const void *a, const void *b, size_t len);

char *capstan_strdup_or_null(const char *s);

/* Standard base64 (with padding) of len bytes, as a new string. */
char *capstan_base64(const unsigned char *in, size_t len);
/* base64url without padding: for generated passwords safe in any config file. */
char *capstan_base64url(const unsigned char *in, size_t len);
/* Standard base64 (padding optional, no whitespace) into *out (malloc'd,
 * *len bytes): 0, or -1 when in is not base64. */
int capstan_base64_decode(unsigned char **out, size_t *len, const char *in, size_t in_len);
/* malloc'd printf. */
char *capstan_aprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
