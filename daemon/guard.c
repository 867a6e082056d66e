/*
 * guard.c - the address guard: the table of ranges sluice never connects
 * to, the operator's allow-list of CIDRs, and the libcurl socket opener
 * that applies both to every connection a transfer makes.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

struct cidr {
	uint8_t		 family;	/* 4 or 6 */
	uint8_t		 bits;
	uint8_t		 addr[16];
	const char	*name;
};

struct guard {
	bool		 allow_private;
	size_t		 ncidrs;
	struct cidr	 cidrs[];
};

/* An address to check: IPv4 in addr[0..3], IPv6 in addr[0..15]. */
struct ip {
	uint8_t		 family;
	uint8_t		 addr[16];
};

/* IPv6 forms that carry an IPv4 address at byte off (Teredo's client
 * address is stored inverted). */
struct embed {
	struct cidr	 prefix;
	uint8_t		 off;
	bool		 inverted;
};

/* First match wins, so the narrower ranges come first. */
static const struct cidr blocked4[] = {
	{ 4, 8,  { 0 },			"0.0.0.0/8 this network" },
	{ 4, 8,  { 10 },		"10.0.0.0/8 private" },
	{ 4, 10, { 100, 64 },		"100.64.0.0/10 shared (CGNAT)" },
	{ 4, 8,  { 127 },		"127.0.0.0/8 loopback" },
	{ 4, 16, { 169, 254 },		"169.254.0.0/16 link-local" },
	{ 4, 12, { 172, 16 },		"172.16.0.0/12 private" },
	{ 4, 24, { 192, 0, 0 },		"192.0.0.0/24 IETF protocol assignments" },
	{ 4, 24, { 192, 0, 2 },		"192.0.2.0/24 documentation" },
	{ 4, 24, { 192, 88, 99 },	"192.88.99.0/24 6to4 relay anycast" },
	{ 4, 16, { 192, 168 },		"192.168.0.0/16 private" },
	{ 4, 15, { 198, 18 },		"198.18.0.0/15 benchmarking" },
	{ 4, 24, { 198, 51, 100 },	"198.51.100.0/24 documentation" },
	{ 4, 24, { 203, 0, 113 },	"203.0.113.0/24 documentation" },
	{ 4, 4,  { 224 },		"224.0.0.0/4 multicast" },
	{ 4, 32, { 255, 255, 255, 255 },"255.255.255.255 broadcast" },
	{ 4, 4,  { 240 },		"240.0.0.0/4 reserved" },
};

static const struct cidr blocked6[] = {
	{ 6, 128, { 0 },		"::/128 unspecified" },
	{ 6, 128, { [15] = 1 },		"::1/128 loopback" },
	{ 6, 96,  { 0 },		"::/96 IPv4-compatible (deprecated)" },
	{ 6, 48,  { 0, 0x64, 0xff, 0x9b, 0, 1 }, "64:ff9b:1::/48 local NAT64" },
	{ 6, 64,  { 0x01, 0x00 },	"100::/64 discard-only" },
	{ 6, 48,  { 0x20, 0x01, 0, 0x02 }, "2001:2::/48 benchmarking" },
	{ 6, 28,  { 0x20, 0x01, 0, 0x10 }, "2001:10::/28 ORCHID" },
	{ 6, 28,  { 0x20, 0x01, 0, 0x20 }, "2001:20::/28 ORCHIDv2" },
	{ 6, 32,  { 0x20, 0x01, 0x0d, 0xb8 }, "2001:db8::/32 documentation" },
	{ 6, 20,  { 0x3f, 0xff },	"3fff::/20 documentation" },
	{ 6, 7,   { 0xfc },		"fc00::/7 unique-local" },
	{ 6, 10,  { 0xfe, 0x80 },	"fe80::/10 link-local" },
	{ 6, 10,  { 0xfe, 0xc0 },	"fec0::/10 site-local (deprecated)" },
	{ 6, 8,   { 0xff },		"ff00::/8 multicast" },
};

static const struct embed embeds[] = {
	{ { 6, 96, { 0, 0x64, 0xff, 0x9b },
	    "64:ff9b::/96 NAT64 to a blocked IPv4 address" }, 12, false },
	{ { 6, 96, { [8] = 0xff, [9] = 0xff },
	    "::ffff:0:0:0/96 SIIT to a blocked IPv4 address" }, 12, false },
	{ { 6, 16, { 0x20, 0x02 },
	    "2002::/16 6to4 with a blocked IPv4 address" }, 2, false },
	{ { 6, 32, { 0x20, 0x01, 0, 0 },
	    "2001::/32 Teredo with a blocked IPv4 server" }, 4, false },
	{ { 6, 32, { 0x20, 0x01, 0, 0 },
	    "2001::/32 Teredo with a blocked IPv4 client" }, 12, true },
};

static const uint8_t MAPPED[12] = { [10] = 0xff, [11] = 0xff };

static bool
in_cidr(const struct cidr *c, const struct ip *ip)
{
	size_t whole = c->bits / 8;
	unsigned rest = c->bits % 8;
	uint8_t mask;

	if (c->family != ip->family || memcmp(c->addr, ip->addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[whole] & mask) == (ip->addr[whole] & mask);
}

static const struct cidr *
find(const struct cidr *list, size_t n, const struct ip *ip)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (in_cidr(&list[i], ip))
			return &list[i];
	}
	return NULL;
}

static const struct cidr *
find_blocked(const struct ip *ip)
{
	if (ip->family == 4)
		return find(blocked4, sizeof(blocked4) / sizeof(blocked4[0]),
		    ip);
	return find(blocked6, sizeof(blocked6) / sizeof(blocked6[0]), ip);
}

/* Blocked unless the allow-list names it. */
static bool
blocked(const struct guard *g, const struct ip *ip)
{
	return find(g->cidrs, g->ncidrs, ip) == NULL &&
	    find_blocked(ip) != NULL;
}

static const char *
embedded_reason(const struct guard *g, const struct ip *ip)
{
	struct ip v4 = { .family = 4 };
	size_t i, k;

	for (i = 0; i < sizeof(embeds) / sizeof(embeds[0]); i++) {
		const struct embed *e = &embeds[i];

		if (!in_cidr(&e->prefix, ip))
			continue;
		for (k = 0; k < 4; k++)
			v4.addr[k] = ip->addr[e->off + k] ^
			    (e->inverted ? 0xff : 0);
		if (blocked(g, &v4))
			return e->prefix.name;
	}
	return NULL;
}

static const char *
ip_reason(const struct guard *g, const struct ip *ip)
{
	const struct cidr *c;

	if (find(g->cidrs, g->ncidrs, ip) != NULL)
		return NULL;
	c = find_blocked(ip);
	if (c != NULL)
		return c->name;
	if (ip->family == 6)
		return embedded_reason(g, ip);
	return NULL;
}

/* An IPv4-mapped IPv6 address is that IPv4 address on the wire. */
static int
ip_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ip *ip)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return -1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		ip->family = 4;
		memcpy(ip->addr, &sin.sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6 || len < (socklen_t)sizeof(sin6))
		return -1;
	memcpy(&sin6, sa, sizeof(sin6));
	ip->family = 6;
	memcpy(ip->addr, &sin6.sin6_addr, 16);
	if (memcmp(ip->addr, MAPPED, sizeof(MAPPED)) == 0) {
		ip->family = 4;
		memmove(ip->addr, ip->addr + 12, 4);
	}
	return 0;
}

const char *
guard_reason(const struct guard *g, const struct sockaddr *sa, socklen_t len)
{
	struct ip ip;

	if (ip_from_sockaddr(sa, len, &ip) == -1)
		return "not an IPv4 or IPv6 address";
	if (g->allow_private)
		return NULL;
	return ip_reason(g, &ip);
}

bool
guard_allows(const struct guard *g, const struct sockaddr *sa, socklen_t len)
{
	return guard_reason(g, sa, len) == NULL;
}

/* Strict decimal prefix length: 1 to 3 digits, at most max. */
static int
parse_bits(const char *s, unsigned max, unsigned *bits)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 3)
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v > max)
		return -1;
	*bits = v;
	return 0;
}

static bool
host_bits_set(const struct cidr *c)
{
	size_t len = c->family == 4 ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		unsigned keep = c->bits > i * 8 ? c->bits - (unsigned)i * 8 : 0;
		uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));

		if ((c->addr[i] & (uint8_t)~mask) != 0)
			return true;
	}
	return false;
}

/* Stores a mapped-IPv6 CIDR as the IPv4 CIDR it means, since mapped
 * addresses are checked as IPv4. */
static void
unmap(struct cidr *c)
{
	if (c->family != 6 || c->bits < 96 ||
	    memcmp(c->addr, MAPPED, sizeof(MAPPED)) != 0)
		return;
	c->family = 4;
	c->bits -= 96;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
}

static const char *
parse_cidr(const char *tok, size_t n, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned bits, max;

	if (n >= sizeof(buf))
		return "too long";
	memcpy(buf, tok, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(c, 0, sizeof(*c));
	c->family = 4;
	max = 32;
	if (inet_pton(AF_INET, buf, c->addr) != 1) {
		c->family = 6;
		max = 128;
		if (inet_pton(AF_INET6, buf, c->addr) != 1)
			return "not an IPv4 or IPv6 address";
	}
	bits = max;
	if (slash != NULL && parse_bits(slash + 1, max, &bits) == -1)
		return "bad prefix length";
	c->bits = (uint8_t)bits;
	if (host_bits_set(c))
		return "host bits set past the prefix length";
	c->name = "allow_cidrs";
	unmap(c);
	return NULL;
}

static bool
is_sep(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' ||
	    ch == '\r';
}

/* Next token of the list at *s, or NULL at the end. */
static const char *
next_token(const char **s, size_t *n)
{
	const char *p = *s, *start;

	while (*p != '\0' && is_sep(*p))
		p++;
	if (*p == '\0')
		return NULL;
	start = p;
	while (*p != '\0' && !is_sep(*p))
		p++;
	*n = (size_t)(p - start);
	*s = p;
	return start;
}

static size_t
count_tokens(const char *s)
{
	size_t count = 0, n;

	while (next_token(&s, &n) != NULL)
		count++;
	return count;
}

struct guard *
guard_new(bool allow_private, const char *allow_cidrs, char *err,
    size_t errlen)
{
	const char *s = allow_cidrs != NULL ? allow_cidrs : "", *tok, *why;
	size_t count = count_tokens(s), n;
	struct guard *g;

	g = calloc(1, sizeof(*g) + count * sizeof(g->cidrs[0]));
	if (g == NULL) {
		snprintf(err, errlen, "guard: out of memory");
		return NULL;
	}
	g->allow_private = allow_private;
	while ((tok = next_token(&s, &n)) != NULL) {
		why = parse_cidr(tok, n, &g->cidrs[g->ncidrs]);
		if (why != NULL) {
			snprintf(err, errlen, "allow_cidrs: \"%.*s\": %s",
			    (int)(n > 64 ? 64 : n), tok, why);
			free(g);
			return NULL;
		}
		g->ncidrs++;
	}
	return g;
}

void
guard_free(struct guard *g)
{
	free(g);
}

void
guard_check_init(struct guard_check *c, const struct guard *g)
{
	memset(c, 0, sizeof(*c));
	c->guard = g;
}

static void
format_addr(const struct sockaddr *sa, socklen_t len, char *out,
    size_t outlen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const char *p = NULL;

	if (sa != NULL && sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		p = inet_ntop(AF_INET, &sin.sin_addr, out, (socklen_t)outlen);
	} else if (sa != NULL && sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(sin6)) {
		memcpy(&sin6, sa, sizeof(sin6));
		p = inet_ntop(AF_INET6, &sin6.sin6_addr, out,
		    (socklen_t)outlen);
	}
	if (p == NULL)
		snprintf(out, outlen, "?");
}

curl_socket_t
guard_opensocket(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
	struct guard_check *chk = clientp;
	const char *why = "no guard configured";

	(void)purpose;
	if (chk == NULL)
		return CURL_SOCKET_BAD;
	if (chk->guard != NULL)
		why = guard_reason(chk->guard, &addr->addr, addr->addrlen);
	if (why != NULL) {
		chk->blocked = 1;
		chk->reason = why;
		format_addr(&addr->addr, addr->addrlen, chk->addr,
		    sizeof(chk->addr));
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC,
	    addr->protocol);
}

int
guard_install(CURL *easy, struct guard_check *c, char *err, size_t errlen)
{
	CURLcode rc;

	rc = curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION,
	    guard_opensocket);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "guard: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}
