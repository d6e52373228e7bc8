/* What fetch reads from the network: a bundle's tar.gz, through libarchive,
 * the entry checks and the MANIFEST check (capstan_bundle_from_tar). */
#include "fuzz.h"
#include "deploy/deploy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	capstan_bundle *b = NULL;

	if (capstan_bundle_from_tar(&b, fuzz_ctx(), data, size) == 0) {
		for (size_t i = 0; i < capstan_bundle_count(b); i++)
			if (!capstan_bundle_path(b, i)[0])
				abort();
		capstan_bundle_free(b);
	}
	return 0;
}
