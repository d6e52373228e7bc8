/*
 * loadgen: the bench's HTTP client. CLIENTS keep-alive connections in one
 * process (libcurl's multi interface), each POSTing its share of the request
 * bodies named on the command line, one at a time, as the curl command line
 * did before it — but without a curl process per connection reparsing its
 * options and writing out every answer: on two cores those processes took
 * a third of the CPU the servers were measured with. Every server in a row
 * of make bench is driven by this same client.
 *
 *   loadgen -n CLIENTS [-t TYPE] [-C CAFILE -E CERT -k KEY] URL BODY...
 *   loadgen -n CLIENTS -g COUNT [-C CAFILE -E CERT -k KEY] URL
 *
 * The second form sends COUNT GETs of URL.
 * Prints "SECONDS OK" (OK: answers with status 200 or 201). A benchmark
 * tool, not part of capstan.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct body {
	char *data;
	long size;
};

struct client {
	CURL *easy;
	int next; /* the index of this client's next body */
	int last; /* one past its last body */
};

static struct body read_body(const char *path)
{
	struct body b = { NULL, 0 };
	FILE *f = fopen(path, "rb");

	if (!f || fseek(f, 0, SEEK_END) || (b.size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(b.data = malloc(b.size + 1)) || fread(b.data, 1, b.size, f) != (size_t)b.size) {
		fprintf(stderr, "loadgen: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	return b;
}

static size_t discard(char *p, size_t size, size_t n, void *unused)
{
	(void)p;
	(void)unused;
	return size * n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct options {
	int clients;
	const char *type, *cafile, *cert, *key, *url;
};

static CURL *client_handle(const struct options *o, struct curl_slist *headers)
{
	CURL *e = curl_easy_init();

	curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (o->cafile)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->cafile);
	if (o->cert)
		curl_easy_setopt(e, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		curl_easy_setopt(e, CURLOPT_SSLKEY, o->key);
	return e;
}

static void start(CURLM *multi, struct client *c, const struct body *bodies)
{
	const struct body *b = bodies ? &bodies[c->next] : NULL;

	c->next++;
	if (b) {
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, b->data);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, b->size);
	}
	curl_multi_add_handle(multi, c->easy);
}

/* Runs every client until each has sent its share; returns how many answers were 2xx. */
static long run(CURLM *multi, struct client *clients, int n, const struct body *bodies)
{
	long ok = 0;
	int running = 1, left;

	for (int i = 0; i < n; i++)
		if (clients[i].next < clients[i].last)
			start(multi, &clients[i], bodies);
	while (running) {
		CURLMsg *m;

		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left))) {
			struct client *c = NULL;
			long status = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			if (m->data.result == CURLE_OK && (status == 200 || status == 201))
				ok++;
			curl_multi_remove_handle(multi, m->easy_handle);
			if (c->next < c->last) {
				start(multi, c, bodies);
				running = 1;
			}
		}
		if (running)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	return ok;
}

int main(int argc, char **argv)
{
	struct options o = { .clients = 8, .type = "application/octet-stream" };
	int opt, gets = 0;

	while ((opt = getopt(argc, argv, "n:g:t:C:E:k:")) != -1) {
		switch (opt) {
		case 'n': o.clients = atoi(optarg); break;
		case 'g': gets = atoi(optarg); break;
		case 't': o.type = optarg; break;
		case 'C': o.cafile = optarg; break;
		case 'E': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind < (gets ? 1 : 2) || o.clients < 1) {
		fprintf(stderr, "usage: loadgen -n CLIENTS [-g COUNT] [-t TYPE] [-C CA -E CERT -k KEY] URL BODY...\n");
		return 2;
	}
	o.url = argv[optind++];
	int nbodies = gets ? gets : argc - optind;
	struct body *bodies = NULL;
	if (!gets) {
		bodies = calloc(nbodies, sizeof(*bodies));
		for (int i = 0; i < nbodies; i++)
			bodies[i] = read_body(argv[optind + i]);
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	char header[256];
	snprintf(header, sizeof(header), "Content-Type: %s", o.type);
	struct curl_slist *headers = curl_slist_append(NULL, header);
	CURLM *multi = curl_multi_init();
	struct client *clients = calloc(o.clients, sizeof(*clients));
	for (int i = 0; i < o.clients; i++) {
		clients[i].easy = client_handle(&o, headers);
		curl_easy_setopt(clients[i].easy, CURLOPT_PRIVATE, &clients[i]);
		clients[i].next = (int)((long)nbodies * i / o.clients);
		clients[i].last = (int)((long)nbodies * (i + 1) / o.clients);
	}
	double t0 = now();
	long ok = run(multi, clients, o.clients, bodies);
	printf("%.3f %ld\n", now() - t0, ok);
	return 0;
}
