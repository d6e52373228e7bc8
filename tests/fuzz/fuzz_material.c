/*
 * Reading what `capstan convert` is given: certificates, chains, keys (PKCS1,
 * SEC1, PKCS8, encrypted PKCS8), PKCS12 and JKS, PEM or DER, detected rather
 * than declared. The first byte says whether a truststore is made (bit 0) and
 * whether the rest is split into --in and --key (bit 1) or --in and --chain
 * (bit 2), at the fraction the second byte gives.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	capstan_convert_inputs in = CAPSTAN_CONVERT_INPUTS_INIT;
	capstan_secret password = { (char *)"changeit", 8 };
	capstan_material *m = NULL;
	capstan_buf out = CAPSTAN_BUF_INIT;
	size_t cut;
	int split;

	if (size < 2)
		return 0;
	in.password = &password;
	in.truststore = data[0] & 1;
	split = data[0] & 6;
	cut = split ? (size_t)data[1] * (size - 2) / 256 : 0;
	data += split ? 2 : 1;
	size -= split ? 2 : 1;
	in.in = (capstan_input){ "in", data, split ? cut : size };
	if (split == 2)
		in.key = (capstan_input){ "key", data + cut, size - cut };
	else if (split)
		in.chain = (capstan_input){ "chain", data + cut, size - cut };
	if (capstan_material_from_files(&m, fuzz_ctx(), &in) == 0) {
		capstan_write_opts o = CAPSTAN_WRITE_OPTS_INIT;
		o.password = &password;
		if (capstan_material_write(&out, fuzz_ctx(), m, in.truststore ? CAPSTAN_FORMAT_PEM : CAPSTAN_FORMAT_CHAIN, &o) == 0)
			capstan_buf_free(&out);
		capstan_material_free(m);
	}
	return 0;
}
