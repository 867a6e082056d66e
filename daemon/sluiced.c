/*
 * sluiced.c - main: command line, configuration, then the loop.
 *
 *	sluiced [-f] [-c FILE] [--set section.key=value]... [--check-config]
 *	        [--check] [--new-store] [--version]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "check.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "sluice/extract.h"
#include "store.h"
#include "util.h"
#include "work.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: sluiced [-f] [-c FILE] [--set section.key=value]...\n"
	    "               [--check-config] [--check] [--new-store] "
	    "[--version]\n"
	    "  -f, --foreground   stay in the foreground (as under systemd)\n"
	    "  -c, --config FILE  configuration file (default: none, built-in "
	    "defaults)\n"
	    "  -s, --set K=V      override one key, e.g. --set "
	    "fetch.max_total=16\n"
	    "  -n, --check-config check the configuration and exit\n"
	    "      --check        check the store's records and indexes, "
	    "print the\n"
	    "                     problems, and exit (1 if there are any)\n"
	    "      --new-store    start with an empty store although the "
	    "state\n"
	    "                     directory held one whose data.mdb is "
	    "missing or empty\n"
	    "  -V, --version      print the version and exit\n");
}

struct args {
	bool	 foreground;
	bool	 check;
	bool	 check_store;
};

/* Long options without a short one. */
enum {
	OPT_CHECK = 256,
	OPT_NEW_STORE,
};

static void
parse_args(struct daemon *d, struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "new-store", no_argument, NULL, OPT_NEW_STORE },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	d->sets = xcalloc((size_t)argc, sizeof(*d->sets));
	while ((ch = getopt_long(argc, argv, "fc:s:nVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': a->foreground = true; break;
		case 'c': d->config_path = optarg; break;
		case 's': d->sets[d->nsets++] = optarg; break;
		case 'n': a->check = true; break;
		case OPT_CHECK: a->check_store = true; break;
		case OPT_NEW_STORE: d->store_flags |= STORE_NEW; break;
		case 'V':
			printf("sluiced %s\n", SLUICE_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
}

/*
 * Transfers and control clients each take a descriptor, and their limits
 * (fetch.max_total, daemon.max_clients) may pass the usual soft limit of
 * 1024: raise it to the hard limit.
 */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit(RLIMIT_NOFILE)");
	}
}

int
main(int argc, char **argv)
{
	struct daemon d;
	struct args a = { 0 };
	char err[1024];
	int fd, rc;

	memset(&d, 0, sizeof(d));
	if (getcwd(d.cwd, sizeof(d.cwd)) == NULL)
		fatal("getcwd");
	parse_args(&d, &a, argc, argv);
	if (daemon_load_config(&d, &d.cfg, err, sizeof(err)) == -1)
		fatalx("configuration: %s", err);
	if (a.check) {
		printf("configuration OK\n");
		config_free(&d.cfg);
		free(d.sets);
		return 0;
	}
	if (a.check_store) {
		rc = check_store(&d.cfg, d.store_flags, stdout);
		config_free(&d.cfg);
		free(d.sets);
		return rc;
	}
	log_set_level(d.cfg.log_level);
	if (d.cfg.user_agent != NULL &&
	    strstr(d.cfg.user_agent, "example.org") != NULL)
		log_warnx("fetch.user_agent still names example.org: set a "
		    "contact URL that reaches you");
	raise_fd_limit();
	fd = notify_listen_fd(err, sizeof(err));
	if (fd == -2)
		fatalx("socket activation: %s", err);
	if (!a.foreground && daemon(1, 1) == -1)
		fatal("daemon");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");
	/* Both libraries set up shared state lazily, which is not safe once
	 * worker threads run: do it here, before any thread starts. */
	sluice_extract_init();
	json_object_seed(0);
	daemon_start(&d, fd);
	rc = daemon_run(&d);
	config_free(&d.cfg);
	free(d.sets);
	/* A worker left behind by the stop may still be inside libxml2:
	 * cleaning up under it would free its state (and lose it to the
	 * leak checker); the exit reclaims everything anyway. */
	if (!work_left())
		xmlCleanupParser();
	curl_global_cleanup();
	return rc;
}
