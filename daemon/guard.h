/*
 * guard.h - the address guard (SSRF protection): decides whether sluice
 * may connect to a resolved address, and plugs into libcurl as its socket
 * opener so that the decision is taken on the address curl is about to
 * connect to, for every connection it makes.
 *
 * Blocked unless allowed: loopback, private, link-local, CGNAT, multicast,
 * unspecified, broadcast, reserved, benchmarking, documentation and IETF
 * protocol ranges, IPv6 unique-local, site-local, discard-only and local
 * NAT64, deprecated IPv4-compatible IPv6 (::/96), and IPv6 forms that embed
 * a blocked IPv4 address: IPv4-mapped ::ffff:0:0/96 (checked as the IPv4
 * address it is), SIIT ::ffff:0:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16
 * and Teredo 2001::/32 (server and client addresses).
 *
 * A struct guard is immutable once built: share one between threads and
 * transfers.  Nothing here logs.
 */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

struct guard;

/*
 * Per-transfer state for guard_opensocket(), owned by the fetcher (one per
 * easy handle; zero it with guard_check_init() before each transfer).
 */
struct guard_check {
	const struct guard	*guard;
	int			 blocked;	/* 1 once a connect was refused */
	char			 addr[INET6_ADDRSTRLEN]; /* last refused address */
	const char		*reason;	/* its range, a static string */
};

/*
 * Builds a guard.  allow_private turns the blocking off altogether (test
 * setups, intranet crawls).  allow_cidrs is a list of CIDRs separated by
 * commas and/or whitespace ("10.0.0.0/8, ::1/128, 127.0.0.1"; a bare
 * address is a host route; NULL or "" is none) that are allowed although
 * blocked: it overrides the block list, for the address itself and for the
 * IPv4 address an IPv6 form embeds.  Addresses are strict: dotted-quad
 * IPv4 (no "127.1" or octal) and RFC 4291 IPv6 without a zone; a prefix may
 * not have host bits set.
 *
 * Returns the guard (free with guard_free()), or NULL with err set to
 * "allow_cidrs: \"TOKEN\": why" or an out-of-memory message.
 */
struct guard *guard_new(bool allow_private, const char *allow_cidrs,
    char *err, size_t errlen)
    __attribute__((warn_unused_result));
void guard_free(struct guard *g);

/*
 * May sluice connect to sa?  Returns true if so; false for blocked
 * addresses, for families other than AF_INET/AF_INET6 and for a NULL or
 * short sa (even with allow_private).
 */
bool guard_allows(const struct guard *g, const struct sockaddr *sa,
    socklen_t len);

/* Like guard_allows(), but says why: NULL when allowed, else a static
 * string naming the blocked range ("127.0.0.0/8 loopback"). */
const char *guard_reason(const struct guard *g, const struct sockaddr *sa,
    socklen_t len);

/* Zeroes c and points it at g, ready for one transfer. */
void guard_check_init(struct guard_check *c, const struct guard *g);

/*
 * CURLOPT_OPENSOCKETFUNCTION callback; clientp (CURLOPT_OPENSOCKETDATA) is
 * the transfer's struct guard_check.  A blocked address sets blocked = 1,
 * fills addr and reason, and returns CURL_SOCKET_BAD, so the transfer fails
 * with CURLE_COULDNT_CONNECT (the fetcher reports address_blocked when
 * blocked is set).  Otherwise it opens the socket as curl would (plus
 * SOCK_CLOEXEC).  A NULL clientp or guard blocks everything.
 *
 * libcurl opens every socket of a transfer through this callback: each
 * resolved address, each happy-eyeballs attempt, each redirect hop, each
 * new connection; a reused connection was checked when it was opened.  So
 * the check sees the address actually connected to, after DNS, and neither
 * redirects nor DNS rebinding get around it.  With a proxy configured,
 * curl connects to the proxy, not the target: the fetcher must set
 * CURLOPT_PROXY to "" (also ignoring *_proxy environment variables).
 */
curl_socket_t guard_opensocket(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *addr);

/* Sets CURLOPT_OPENSOCKETFUNCTION and CURLOPT_OPENSOCKETDATA on easy.
 * Returns 0, or -1 with err set. */
int guard_install(CURL *easy, struct guard_check *c, char *err,
    size_t errlen);

#endif
