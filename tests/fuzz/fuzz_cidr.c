/*
 * fuzz_cidr.c - guard_new() on an arbitrary allow_cidrs list; when it
 * parses, a few addresses are checked against it.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *addrs[] = {
	"127.0.0.1", "10.1.2.3", "8.8.8.8", "::1", "::ffff:192.168.1.1",
	"64:ff9b::a00:1", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe",
	"fd00::1", "2606:4700::1111",
};

static void
check(const struct guard *g, const char *a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, a, &sin.sin_addr) == 1)
		guard_allows(g, (struct sockaddr *)&sin, sizeof(sin));
	else if (inet_pton(AF_INET6, a, &sin6.sin6_addr) == 1)
		guard_reason(g, (struct sockaddr *)&sin6, sizeof(sin6));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *list, err[128];
	struct guard *g;
	size_t i;

	if (size > 4096)
		return 0;
	list = malloc(size + 1);
	if (list == NULL)
		return 0;
	memcpy(list, data, size);
	list[size] = '\0';
	g = guard_new(false, list, err, sizeof(err));
	if (g != NULL) {
		for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
			check(g, addrs[i]);
		guard_free(g);
	}
	free(list);
	return 0;
}
