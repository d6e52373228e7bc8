/* The template engine, over data shaped like a bundle's: strings, a boolean,
 * a list of maps, a nested map. */
#include "fuzz.h"

static capstan_tvalue *fuzz_data(void)
{
	capstan_tvalue *root = capstan_tv_map(), *peers = capstan_tv_list(), *tls = capstan_tv_map();

	for (int i = 0; i < 3; i++) {
		capstan_tvalue *peer = capstan_tv_map();
		capstan_tv_put_string(peer, "name", i ? "etcd-2" : "etcd-1");
		capstan_tv_put_string(peer, "url", "https://127.0.0.1:2380");
		capstan_tv_push(peers, peer);
	}
	capstan_tv_put_string(tls, "cert", "/etc/ssl/cert.pem");
	capstan_tv_put(tls, "enabled", capstan_tv_bool(1));
	capstan_tv_put_string(root, "service", "etcd");
	capstan_tv_put(root, "peers", peers);
	capstan_tv_put(root, "tls", tls);
	capstan_tv_put(root, "off", capstan_tv_bool(0));
	capstan_tv_put(root, "empty", capstan_tv_list());
	return root;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static capstan_tvalue *values;
	capstan_buf out = CAPSTAN_BUF_INIT;

	if (!values)
		values = fuzz_data();
	if (capstan_template_render(&out, fuzz_ctx(), "fuzz.tmpl", (const char *)data, size, values) == 0)
		capstan_buf_free(&out);
	return 0;
}
