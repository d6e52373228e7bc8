/*
 * OCSP answers kept for reuse, shared by a context and its clones (serve's
 * workers), behind a lock.
 *
 * Signing an answer is most of what one costs, and OCSP clients ask again
 * and again about the same certificates: a stapling server each refresh,
 * every TLS client that checks. An answer to a request that can be answered
 * byte for byte again (one CertID, no nonce) is kept under that CertID and
 * given again while the inventory, read for every request, still says the
 * same of the certificate, and for at most REUSE_SECONDS (then signed anew,
 * so thisUpdate is never older than that and nextUpdate never near). A
 * revocation therefore shows on the next request, as without the cache.
 *
 * A table of SLOTS entries indexed by a hash of the CA's row id and the
 * CertID: a newer answer takes its slot's place. Bounded: SLOTS answers of
 * ~1 KB at most.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ca_internal.h"

#define SLOTS 8192
#define MAX_CERTID 160
#define REUSE_SECONDS 300
/* An answer is not given within this long of its own nextUpdate. */
#define NEXT_UPDATE_MARGIN 600

struct slot {
	int64_t ca_id;                 /* 0: empty */
	unsigned char certid[MAX_CERTID];
	size_t certid_len;
	capstan_ocsp_answer said;
	time_t this_update, next_update;
	capstan_buf response;
};

struct capstan_ocsp_answers {
	pthread_mutex_t lock;
	unsigned refs;
	struct slot *slots;            /* allocated with the first answer kept */
};

int capstan_ocsp_answers_new(capstan_ocsp_answers **out)
{
	capstan_ocsp_answers *a = calloc(1, sizeof(*a));

	if (!a || pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a);
		return CAPSTAN_ERROR;
	}
	a->refs = 1;
	*out = a;
	return 0;
}

capstan_ocsp_answers *capstan_ocsp_answers_ref(capstan_ocsp_answers *a)
{
	if (a) {
		pthread_mutex_lock(&a->lock);
		a->refs++;
		pthread_mutex_unlock(&a->lock);
	}
	return a;
}

void capstan_ocsp_answers_unref(capstan_ocsp_answers *a)
{
	unsigned left;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	left = --a->refs;
	pthread_mutex_unlock(&a->lock);
	if (left)
		return;
	for (size_t i = 0; a->slots && i < SLOTS; i++)
		capstan_buf_free(&a->slots[i].response);
	free(a->slots);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static size_t slot_of(int64_t ca_id, const unsigned char *certid, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)ca_id;

	for (size_t i = 0; i < len; i++)
		h = (h ^ certid[i]) * 1099511628211ULL;
	return (size_t)(h % SLOTS);
}

static int same_answer(const capstan_ocsp_answer *a, const capstan_ocsp_answer *b)
{
	return a->status == b->status && a->revoked_at == b->revoked_at && a->reason == b->reason;
}

int capstan_ocsp_answers_get(capstan_ocsp_answers *a, capstan_ctx *ctx, int64_t ca_id, const unsigned char *certid,
	size_t len, const capstan_ocsp_answer *says, time_t now, capstan_buf *out)
{
	struct slot *s;
	int rc = 0;

	if (!a || len > MAX_CERTID)
		return 0;
	pthread_mutex_lock(&a->lock);
	s = a->slots ? &a->slots[slot_of(ca_id, certid, len)] : NULL;
	if (s && s->ca_id == ca_id && s->certid_len == len && memcmp(s->certid, certid, len) == 0 &&
	    same_answer(&s->said, says) && now >= s->this_update && now - s->this_update < REUSE_SECONDS &&
	    now + NEXT_UPDATE_MARGIN < s->next_update)
		rc = capstan_buf_set(ctx, out, s->response.data, s->response.len) < 0 ? CAPSTAN_ERROR : 1;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void capstan_ocsp_answers_put(capstan_ocsp_answers *a, int64_t ca_id, const unsigned char *certid, size_t len,
	const capstan_ocsp_answer *said, time_t this_update, time_t next_update, const capstan_buf *response)
{
	unsigned char *copy;
	struct slot *s;

	if (!a || len > MAX_CERTID || !(copy = malloc(response->len + 1)))
		return; /* not kept: the next request signs again */
	memcpy(copy, response->data, response->len);
	copy[response->len] = '\0'; /* as every capstan_buf */
	pthread_mutex_lock(&a->lock);
	if (!a->slots)
		a->slots = calloc(SLOTS, sizeof(*a->slots));
	if (!a->slots) {
		pthread_mutex_unlock(&a->lock);
		free(copy);
		return;
	}
	s = &a->slots[slot_of(ca_id, certid, len)];
	capstan_buf_free(&s->response);
	s->ca_id = ca_id;
	memcpy(s->certid, certid, len);
	s->certid_len = len;
	s->said = *said;
	s->this_update = this_update;
	s->next_update = next_update;
	s->response = (capstan_buf){ .data = copy, .len = response->len, .cap = 0 };
	pthread_mutex_unlock(&a->lock);
}
