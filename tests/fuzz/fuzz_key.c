/* Public keys as a CSR or an input file brings them: the policy's
 * classification of any SubjectPublicKeyInfo (type, size, RSA exponent,
 * Ed25519 points of small order, OpenSSL's own public-key check). */
#include "fuzz.h"

#include <openssl/x509.h>

#include "crypto/crypto_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)size);
	capstan_key_type type;

	if (pkey) {
		(void)capstan_key_classify(fuzz_ctx(), pkey, &type);
		EVP_PKEY_free(pkey);
	}
	return 0;
}
