/*
 * fuzz_config.c - the config file parser: any bytes as a config file.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512];

	config_defaults(&c);
	if (config_load_buffer(&c, "fuzz", (const char *)data, size, err,
	    sizeof(err)) == 0)
		(void)config_validate(&c, err, sizeof(err));
	config_free(&c);
	return 0;
}
