/* The YAML configuration loader: any text is a config or one clean error. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	capstan_config *config = NULL;

	if (capstan_config_parse(&config, fuzz_ctx(), "fuzz.yaml", (const char *)data, size) == 0)
		capstan_config_free(config);
	return 0;
}
