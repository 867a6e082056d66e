/*
 * fuzz_proto.c - the control protocol parser: any bytes as a request line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *urls[16];
	size_t lens[16];
	enum proto_cmd cmd;
	char err[512];
	json_t *req;

	if (proto_parse((const char *)data, size, 16, &req, &cmd, err,
	    sizeof(err)) != PROTO_OK)
		return 0;
	if (cmd == CMD_SUBMIT && proto_urls(req, urls, lens, 16) == 0)
		abort();	/* a valid submit always has a URL */
	json_decref(req);
	return 0;
}
