/* CSRs given to `issue --csr`: PEM or DER, self-signature and key policy checked. */
#include "fuzz.h"

#include "crypto/crypto.h"
#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	capstan_key *key = NULL;
	capstan_strlist sans = { 0 };
	char *cn = NULL;

	if (capstan_csr_read(fuzz_ctx(), data, size, &key, &cn, &sans) == 0) {
		capstan_key_free(key);
		free(cn);
		capstan_strlist_free(&sans);
	}
	return 0;
}
