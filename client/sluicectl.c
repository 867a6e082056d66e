/*
 * sluicectl.c - the command-line client of sluiced's control socket
 * (docs/protocol.md, sluicectl(1)).  Commands live in one table, ctl_cmds[],
 * which also drives prefix matching and the help text; each command is one
 * short do_<command>() that parses its own arguments, sends one request and
 * prints the reply as text, or raw with --json.
 *
 * Exit status: 0 success, 1 the command failed (an "ok":false reply, or a
 * URL rejected by submit), 2 a usage error or a daemon that cannot be
 * reached or went away.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "ctlclient.h"
#include "util.h"
#include "watch.h"
#include "warcout.h"

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAILED		1
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_UNREACHABLE	2

#define CTL_TIMEOUT_DEFAULT_MS	30000
/* export --progress-timeout: longest wait for the next line of the stream. */
#define CTL_EXPORT_PROGRESS_MS	60000
/* jobs --all asks for pages this large (the protocol's maximum). */
#define CTL_JOBS_PAGE_MAX	1000
/* Shortest interval between two redraws of the progress line. */
#define CTL_PROGRESS_MS		200
/* Longest part of a locally rejected URL echoed back. */
#define CTL_ECHO_MAX		100

/* Everything a command needs; main() owns it. */
struct ctl {
	char			 socket[PATH_MAX];
	const char		*socket_origin;	/* where the path came from */
	uint64_t		 timeout_ms;	/* connect and each reply; 0 none */
	int			 timeout_set;	/* -t was given */
	int			 json;		/* print raw reply lines */
	int			 connected;
	uint64_t		 progress_ms;	/* export: per line; 0 none */
	int			 export_warc;	/* export --format warc */
	struct warcout		 warc;
	const struct ctl_cmd	*cmd;		/* the command being run */
	struct ctlclient	 conn;
};

struct ctl_cmd {
	const char	*name;		/* also the request's "cmd" */
	const char	*args;		/* synopsis after the name */
	const char	*help;		/* one line */
	int		 flags;
/* The command waits as long as the daemon needs unless -t is given. */
#define CMD_OWN_TIMEOUT	0x1
	int		(*run)(struct ctl *, int, char **);
};

static int do_submit(struct ctl *, int, char **);
static int do_status(struct ctl *, int, char **);
static int do_job(struct ctl *, int, char **);
static int do_jobs(struct ctl *, int, char **);
static int do_hosts(struct ctl *, int, char **);
static int do_dups(struct ctl *, int, char **);
static int do_reclean(struct ctl *, int, char **);
static int do_doc(struct ctl *, int, char **);
static int do_export(struct ctl *, int, char **);
static int do_pause(struct ctl *, int, char **);
static int do_resume(struct ctl *, int, char **);
static int do_cancel(struct ctl *, int, char **);
static int do_retry(struct ctl *, int, char **);
static int do_drain(struct ctl *, int, char **);
static int do_reload(struct ctl *, int, char **);
static int do_config(struct ctl *, int, char **);
static int do_wait(struct ctl *, int, char **);
static int do_watch(struct ctl *, int, char **);
static int do_help(struct ctl *, int, char **);
static int do_feed(struct ctl *, int, char **);
static int do_feeds(struct ctl *, int, char **);
static int do_site(struct ctl *, int, char **);
static int do_site_memory(struct ctl *, int, char **);
static int do_nodes(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "submit", "[--priority N] [--force] [--not-before TIME] URL...|-",
	    "queue URLs (- reads stdin; also --batch N, --max-request B)", 0,
	    do_submit },
	{ "status", "[--cluster]", "show job counts, rate and store use (or the "
	    "cluster's totals)", 0, do_status },
	{ "nodes", "", "list a cluster's nodes: partitions, held messages, "
	    "heartbeat", 0, do_nodes },
	{ "job", "ID", "show one job", 0, do_job },
	{ "jobs", "[--state STATE] [--limit N] [--after ID] [--all]",
	    "list jobs, a page at a time", 0, do_jobs },
	{ "doc", "[--raw] ID|URL", "show a stored document", 0, do_doc },
	{ "hosts", "", "show per-host queue, politeness and robots.txt state",
	    0, do_hosts },
	{ "dups", "ID", "list the copies of a document", 0, do_dups },
	{ "site", "HOST | add URL [--priority N]", "show what the site "
	    "memory holds and drops for a site; add: poll a site's feeds", 0,
	    do_site },
	{ "reclean", "--host HOST|--since TIME|--all [--wait]",
	    "clean stored documents again from their raw bodies, in the "
	    "background", 0, do_reclean },
	{ "export", "[--since TIME] [--duplicates WHICH] [--host HOST] "
	    "[--min-words N] [--format jsonl|trafilatura|warc] "
	    "[--progress-timeout S] | --cluster [--since TIME]",
	    "stream documents to stdout, one JSON line each (or WARC)",
	    CMD_OWN_TIMEOUT, do_export },
	{ "pause", "", "stop dispatching new fetches", 0, do_pause },
	{ "resume", "", "dispatch fetches again", 0, do_resume },
	{ "cancel", "ID...|--state STATE|--host HOST",
	    "cancel queued or active jobs", 0, do_cancel },
	{ "retry", "ID|--failed",
	    "queue a failed or cancelled job (or all failed) again", 0,
	    do_retry },
	{ "drain", "[--timeout S]",
	    "pause, then wait until nothing is in flight", CMD_OWN_TIMEOUT,
	    do_drain },
	{ "reload", "", "re-read the configuration file", 0, do_reload },
	{ "config", "[KEY...]", "show the configuration in force", 0,
	    do_config },
	{ "wait", "[--timeout S]", "wait until no job is queued or active",
	    CMD_OWN_TIMEOUT, do_wait },
	{ "watch", "[--interval S] [--hosts N] [--count N] [--json]",
	    "a live view: rates, ETA, fetch results, busy hosts, failures",
	    0, do_watch },
	{ "feed", "add URL [--priority N] [--interval DURATION] | rm ID|URL | "
	    "show ID", "add, remove or show a feed or sitemap", 0, do_feed },
	{ "feeds", "[--json]", "list the feeds, sitemaps and sites polled", 0,
	    do_feeds },
	{ "help", "[COMMAND]", "show this help, or one command's", 0,
	    do_help },
};

/*
 * What `sluicectl CMD --help` and `sluicectl help CMD` print after the
 * synopsis: every option and the formats its values take.  Kept apart from
 * ctl_cmds[] so the one-line table stays short.
 */
#define HELP_TIME \
	"TIME is an RFC 3339 time (2026-11-28T02:00:00Z, or a date alone such\n" \
	"as 2026-11-28), seconds since the epoch, or +N / -N relative to now\n" \
	"with an optional unit s, m, h or d (seconds by default): +10m, -2d.\n"
#define HELP_STATES \
	"STATE is one of queued, active, done, failed, cancelled.\n"

static const struct {
	const char	*name;
	const char	*text;
} ctl_help[] = {
	{ "submit",
	    "Queues URLs and prints one line per URL (queued, duplicate,\n"
	    "requeued or rejected).  With - as the only URL, reads one URL a\n"
	    "line from stdin (blank lines and lines starting with # skipped),\n"
	    "sends them in batches, and lists only the rejected ones.\n\n"
	    "  --priority N       -1000 to 1000 (default 0): higher first\n"
	    "  --force            requeue a finished, failed or cancelled job\n"
	    "  --not-before TIME  hold the jobs until TIME\n"
	    "  --batch N          URLs per request with - (default 1000)\n"
	    "  --max-request B    bytes per request with - (default 1048576)\n\n"
	    HELP_TIME },
	{ "status",
	    "Prints the version, uptime, job counts by state, totals, the rate\n"
	    "over the last minute, fetches in flight and the store's size; on a\n"
	    "cluster node, its partitions and NATS connection too.\n\n"
	    "  --cluster  the job counts and totals summed over every node of\n"
	    "             the cluster, from their last heartbeats\n" },
	{ "nodes",
	    "Lists the nodes of the cluster this node is in, from their\n"
	    "heartbeats: the age of the last one, the URLs of the frontier\n"
	    "messages they hold, the messages pending in their partitions, and\n"
	    "the partitions they own.\n"
	    "No options.\n" },
	{ "job",
	    "Prints job ID as key: value lines (its state, attempts, HTTP\n"
	    "status, last error, times).  No options.\n" },
	{ "jobs",
	    "Lists jobs: id, state, attempts, HTTP status, URL, last error.\n\n"
	    "  --state STATE  only jobs in STATE\n"
	    "  --limit N      jobs per page, 1 to 1000 (default 100)\n"
	    "  --after ID     start after job ID (the next page)\n"
	    "  --all          every page\n\n"
	    HELP_STATES },
	{ "doc",
	    "Prints the stored document of job ID, or of URL, as indented\n"
	    "JSON.\n\n"
	    "  --raw  write the response body as it was stored instead (after\n"
	    "         any Content-Encoding was undone; in its own charset), to\n"
	    "         stdout as it is; needs store.keep_raw, which is on by\n"
	    "         default (with WARC capture on, it is read back from the\n"
	    "         page's WARC record: warc.serves_raw)\n" },
	{ "hosts",
	    "Lists every host: transfers in flight, jobs queued, done and\n"
	    "failed, the next request's time, backoff, robots.txt state\n"
	    "(unknown, fetching, parse, allow-all, disallow-all, ignored).\n"
	    "No options.\n" },
	{ "site",
	    "site HOST prints the site memory of HOST (a host name or a URL;\n"
	    "www. and the port aside): the lines it holds, how many of them\n"
	    "recur on extract.site_min_pages pages or more (dropped where they\n"
	    "recur), the pages whose text lost lines, and the lines dropped\n"
	    "most often since sluiced started, with the pages they were\n"
	    "dropped from.\n\n"
	    "site add URL fetches the page, then adds the site's sources in\n"
	    "this order: the Sitemap: lines of its robots.txt, the page's\n"
	    "<link rel=alternate> feeds, else the usual paths (/sitemap.xml,\n"
	    "/feed, ...) that answer with a feed; a site with none has the\n"
	    "page itself polled for new same-site links.\n\n"
	    "  --priority N  -1000 to 1000 (default 0), with add\n" },
	{ "reclean",
	    "Starts cleaning the stored documents again from their stored raw\n"
	    "bodies (store.keep_raw, or their WARC records: warc.serves_raw),\n"
	    "with the current cleaner and site memory, in the background;\n"
	    "status shows its progress under reclean (documents read,\n"
	    "cleaned, changed, duplicate links changed, failed, skipped for\n"
	    "want of a body, unreadable WARC records).  Changed texts\n"
	    "replace the stored ones, and the duplicate links follow.  One\n"
	    "pass at a time; at least one option is needed.\n\n"
	    "  --host HOST   only documents fetched from HOST (www. and the\n"
	    "                port aside)\n"
	    "  --since TIME  only documents fetched since TIME\n"
	    "  --all         every document\n"
	    "  --wait        wait until the pass ends, then print its counts\n"
	    "                (exit status 1 if documents failed, or if WARC\n"
	    "                records could not be read back)\n\n"
	    HELP_TIME },
	{ "dups",
	    "Lists the copies of document ID (or of the document it copies):\n"
	    "id, kind (url, exact or near), similarity, URL.  No options.\n" },
	{ "export",
	    "Writes the stored documents to stdout, one JSON object a line, in\n"
	    "fetch order.  The export takes as long as it needs, but each\n"
	    "line must arrive within the progress timeout.\n\n"
	    "  --since TIME            only documents fetched since TIME\n"
	    "  --cluster               every node's documents, from the\n"
	    "                          cluster's SLUICE_DOCS stream (with the\n"
	    "                          cluster's verdict and the node), since\n"
	    "                          --since (published since then); no\n"
	    "                          other filter\n"
	    "  --duplicates WHICH      exclude (the default) or include the\n"
	    "                          documents found to be copies, or only\n"
	    "                          them\n"
	    "  --include-duplicates    the same as --duplicates include\n"
	    "  --host HOST             only documents whose URL is on HOST\n"
	    "                          (www. and the port aside)\n"
	    "  --min-words N           only documents of N words or more\n"
	    "  --format FORMAT         jsonl (the documents as stored, the\n"
	    "                          default), trafilatura (its JSON\n"
	    "                          output's field names) or warc (WARC\n"
	    "                          1.1 conversion records of the clean\n"
	    "                          text, linked to the capture)\n"
	    "  --progress-timeout S    longest wait for the next line (default\n"
	    "                          60, or -t when given; 0 waits for ever);\n"
	    "                          exit status 2 when it passes\n\n"
	    HELP_TIME },
	{ "pause",
	    "Stops dispatching new fetches (those in flight finish) until\n"
	    "resume or a restart.  No options.\n" },
	{ "resume", "Dispatches fetches again.  No options.\n" },
	{ "cancel",
	    "Cancels queued or active jobs: job ID (printed), several IDs, or\n"
	    "every job in a state or on a host (one line per job, then counts).\n"
	    "--state and --host are done here, not by the daemon: sluicectl\n"
	    "lists the jobs with jobs, a page at a time, and cancels each.\n\n"
	    "  --state STATE  the jobs in STATE (default: queued and active)\n"
	    "  --host HOST    the jobs whose URL is on HOST: a name (any port),\n"
	    "                 name:port, or an origin such as https://name:8443\n\n"
	    HELP_STATES },
	{ "retry",
	    "Queues failed or cancelled job ID again, attempts reset.\n\n"
	    "  --failed   every failed job instead of one ID\n" },
	{ "drain",
	    "Pauses dispatching and returns once nothing is in flight and every\n"
	    "fetched page is stored.\n\n"
	    "  --timeout S   give up after S seconds (the daemon stays paused)\n" },
	{ "reload",
	    "Makes the daemon re-read its configuration file; lists the keys\n"
	    "applied and those that need a restart.  No options.\n" },
	{ "config",
	    "Prints the configuration the daemon runs with, in the config\n"
	    "file's syntax (sizes like 10MiB, durations like 100ms, 1s, 24h),\n"
	    "or, given KEYs (section.key), just those as key = value lines.\n"
	    "No options.\n" },
	{ "wait",
	    "Returns once no job is queued or active (jobs waiting for a retry\n"
	    "count as queued).  On a terminal, a status line on stderr shows\n"
	    "the counts by state and, when only retries remain, the next one.\n\n"
	    "  --timeout S   give up after S seconds (exit 1)\n" },
	{ "watch",
	    "A live view: jobs by state, rates and ETA, fetch results, busy\n"
	    "hosts, last failures.  Full screen on a terminal (q quits), else\n"
	    "one line per interval.\n\n"
	    "  --interval S   seconds between refreshes, 0.1 at least (default 1)\n"
	    "  --hosts N      hosts shown, 0 to 100 (default 10)\n"
	    "  --count N      stop after N refreshes (default: never)\n"
	    "  --json         print each stats reply as it is\n" },
	{ "feed",
	    "feed add URL polls a feed (RSS, RDF, Atom, JSON Feed) or a\n"
	    "sitemap (plain, gzipped, news, index) on an adaptive schedule\n"
	    "and queues each new entry once; prints the new source.\n"
	    "feed rm ID|URL stops polling it; feed show ID prints it.\n\n"
	    "  --priority N         -1000 to 1000 (default 0): the polls' and\n"
	    "                       the entries' priority\n"
	    "  --interval DURATION  poll every DURATION (N, Ns, Nm, Nh, Nd)\n"
	    "                       instead of adapting; at least\n"
	    "                       feeds.min_interval\n" },
	{ "feeds",
	    "Lists the sources: id, kind, interval, next poll, last poll and\n"
	    "its result, entries found in the last day, URL.\n\n"
	    "  --json  print the reply as JSON\n" },
	{ "help",
	    "Prints the usage, or COMMAND's options and formats (as\n"
	    "sluicectl COMMAND --help does).  Nothing is sent to the daemon.\n" },
};

/* Prints why a command line was refused and returns CTL_EXIT_USAGE. */
static int
usage_error(const struct ctl *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const struct ctl *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sluicectl %s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: sluicectl %s%s%s\n", ctx->cmd->name,
	    *ctx->cmd->args ? " " : "", ctx->cmd->args);
	return CTL_EXIT_USAGE;
}

/* Reports a getopt_long() miss ('?' or ':') for the running command. */
static int
bad_option(const struct ctl *ctx, int ch, char **argv)
{
	const char *opt = argv[optind - 1];

	if (ch == ':')
		return usage_error(ctx, "%s needs a value", opt);
	return usage_error(ctx, "unknown option %s", opt);
}

/* Starts getopt_long() afresh on a command's own argv (argv[0] is the
 * command); GNU getopt permutes, so options may follow the operands. */
static void
cmd_getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

/* Refuses operands for commands that take none. */
static int
no_args(const struct ctl *ctx, int argc, char **argv)
{
	if (argc > 1)
		return usage_error(ctx, "unexpected argument %s", argv[1]);
	return 0;
}

static int
ctl_connect(struct ctl *ctx)
{
	char err[256];
	int e;

	if (ctx->connected)
		return 0;
	ctlclient_set_timeout(&ctx->conn, ctx->timeout_ms);
	if (ctlclient_connect(&ctx->conn, ctx->socket, err, sizeof(err)) ==
	    -1) {
		e = errno;
		fprintf(stderr, "sluicectl: cannot connect to %s (from %s): %s"
		    "%s\n", ctx->socket, ctx->socket_origin, err,
		    e == ENOENT || e == ECONNREFUSED ? "; is sluiced running?"
		    : "");
		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "sluicectl: choose the socket with -s "
			    "PATH or $SLUICE_SOCKET (the default is "
			    CTLCLIENT_SOCKET_DEFAULT ")\n");
		return -1;
	}
	ctx->connected = 1;
	return 0;
}

static void
ctl_echo(const struct ctl *ctx, const char *line, size_t len)
{
	if (!ctx->json)
		return;
	fwrite(line, 1, len, stdout);
	fputc('\n', stdout);
}

/*
 * Reads one reply line, echoing it in --json mode.  Returns 0 and sets
 * *reply (the caller's), or -1 after saying why.
 */
static int
ctl_read(struct ctl *ctx, json_t **reply)
{
	const char *line;
	size_t len;
	char err[512];
	int rc;

	ctlclient_set_timeout(&ctx->conn, ctx->timeout_ms);
	rc = ctlclient_read_reply(&ctx->conn, reply, &line, &len, err,
	    sizeof(err));
	if (rc == 0)
		snprintf(err, sizeof(err), "the daemon closed the connection "
		    "without replying");
	if (rc != 1) {
		fprintf(stderr, "sluicectl: %s: %s\n", ctx->socket, err);
		return -1;
	}
	ctl_echo(ctx, line, len);
	return 0;
}

/*
 * Sends req (consumed; NULL means it could not be built), connecting first
 * if needed.  Returns 0, or -1 after saying why.  A daemon that turns us
 * away (busy, shutting_down) writes one error line and closes, perhaps
 * before reading the request: when the send fails and such a line is
 * there, it is returned in *early, which says more than EPIPE does.
 */
static int
ctl_send(struct ctl *ctx, json_t *req, json_t **early)
{
	const char *line;
	size_t len;
	char err[512], err2[512];
	int rc;

	*early = NULL;
	if (req == NULL) {
		fprintf(stderr, "sluicectl: out of memory\n");
		return -1;
	}
	if (ctl_connect(ctx) == -1) {
		json_decref(req);
		return -1;
	}
	ctlclient_set_timeout(&ctx->conn, ctx->timeout_ms);
	rc = ctlclient_send(&ctx->conn, req, err, sizeof(err));
	json_decref(req);
	if (rc == 0)
		return 0;
	if (ctlclient_read_reply(&ctx->conn, early, &line, &len, err2,
	    sizeof(err2)) == 1) {
		ctl_echo(ctx, line, len);
		return 0;
	}
	fprintf(stderr, "sluicectl: %s: %s\n", ctx->socket, err);
	return -1;
}

/* One request, one reply: returns 0 with *reply set, or -1 (exit 2). */
static int
ctl_call(struct ctl *ctx, json_t *req, json_t **reply)
{
	if (ctl_send(ctx, req, reply) == -1)
		return -1;
	if (*reply != NULL)
		return 0;
	return ctl_read(ctx, reply);
}

/* The exit status of a reply; a failure is explained on stderr. */
static int
ctl_check(const struct ctl *ctx, const json_t *reply)
{
	char etext[1024];

	if (json_is_true(json_object_get(reply, "ok")))
		return CTL_EXIT_OK;
	if (!ctx->json)
		fprintf(stderr, "sluicectl: %s failed: %s\n", ctx->cmd->name,
		    ctlclient_error_text(reply, etext, sizeof(etext)));
	return CTL_EXIT_FAILED;
}

/* The common shape: one request, then print (text mode) a good reply. */
static int
ctl_simple(struct ctl *ctx, json_t *req,
    void (*print)(FILE *, const json_t *))
{
	json_t *reply;
	int rc;

	if (ctl_call(ctx, req, &reply) == -1)
		return CTL_EXIT_UNREACHABLE;
	rc = ctl_check(ctx, reply);
	if (rc == CTL_EXIT_OK && !ctx->json && print != NULL)
		print(stdout, reply);
	json_decref(reply);
	return rc;
}

/*
 * submit: URLs go out in batches (struct ctlclient_batch); each batch is
 * one request and one reply, so memory stays bounded whatever the input.
 */
struct submit_opts {
	json_t		*base;		/* the request without "urls" */
	uint64_t	 batch;		/* URLs per request */
	uint64_t	 max_request;	/* bytes per request line */
	int		 batch_set;	/* --batch was given */
	int		 request_set;	/* --max-request was given */
};

struct submit_run {
	struct ctl			*ctx;
	const struct submit_opts	*opts;
	struct ctlclient_batch		 batch;
	const char			*unit;	/* "line" or "argument" */
	uint64_t			 item;	/* number of the current one */
	uint64_t			 first;	/* item starting the batch */
	int				 list_all; /* print every result */
	int				 progress; /* draw on stderr */
	int				 drawn;	/* a progress line is shown */
	uint64_t			 last_draw;
	int				 status;
	struct ctlclient_progress	 p;
};

static void
progress_clear(struct submit_run *run)
{
	if (!run->drawn)
		return;
	fputs("\r\033[K", stderr);
	run->drawn = 0;
}

/* Redraws the progress line, at most every CTL_PROGRESS_MS. */
static void
progress_draw(struct submit_run *run, int force)
{
	char line[256];
	uint64_t now = mono_ms();
	off_t pos;

	if (!run->progress)
		return;
	if (run->drawn && !force && now - run->last_draw < CTL_PROGRESS_MS)
		return;
	pos = ftello(stdin);
	if (pos > 0)
		run->p.read_bytes = (uint64_t)pos;
	ctlclient_fmt_progress(&run->p, now, line, sizeof(line));
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	run->drawn = 1;
	run->last_draw = now;
}

/* stdout and the progress line share a terminal: clear the line first. */
static void
progress_yield(struct submit_run *run)
{
	if (run->drawn && isatty(STDOUT_FILENO))
		progress_clear(run);
}

/* Counts (and, as asked, prints) the results of one batch. */
static void
submit_tally(struct submit_run *run, const json_t *reply)
{
	const json_t *results = json_object_get(reply, "results");
	const char *st;
	size_t i;
	json_t *r;

	json_array_foreach(results, i, r) {
		st = json_string_value(json_object_get(r, "status"));
		if (st != NULL && strcmp(st, "queued") == 0)
			run->p.queued++;
		else if (st != NULL && strcmp(st, "duplicate") == 0)
			run->p.duplicates++;
		else if (st != NULL && strcmp(st, "forwarded") == 0)
			run->p.forwarded++;
		else
			run->p.rejected++;
		if (!run->ctx->json && (run->list_all || st == NULL ||
		    strcmp(st, "rejected") == 0))
			ctlclient_print_submit_result(stdout, r);
	}
}

/* Says where a stopped submission stopped, so the rest can be resent. */
static void
submit_stopped(const struct submit_run *run)
{
	if (run->list_all && run->first <= 1)
		return;
	fprintf(stderr, "sluicectl: submit stopped: %ss from %llu on were "
	    "not submitted\n", run->unit, (unsigned long long)run->first);
}

/* Builds the request for the pending batch; NULL when memory is short. */
static json_t *
submit_request(struct submit_run *run)
{
	json_t *urls = ctlclient_batch_take(&run->batch);
	json_t *req = json_copy(run->opts->base);

	if (req == NULL || urls == NULL ||
	    json_object_set_new(req, "urls", urls) == -1) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/*
 * Sends the pending batch.  Returns 0, or -1 when submitting must stop
 * (run->status says why).
 */
static int
submit_flush(struct submit_run *run)
{
	size_t n = ctlclient_batch_count(&run->batch);
	json_t *reply;
	int rc;

	if (n == 0)
		return 0;
	progress_yield(run);
	if (ctl_call(run->ctx, submit_request(run), &reply) == -1) {
		run->status = CTL_EXIT_UNREACHABLE;
		submit_stopped(run);
		return -1;
	}
	if (!json_is_true(json_object_get(reply, "ok")))
		progress_clear(run);
	rc = ctl_check(run->ctx, reply);
	if (rc == CTL_EXIT_OK) {
		run->p.sent += n;
		submit_tally(run, reply);
	} else {
		run->status = rc;
		submit_stopped(run);
	}
	json_decref(reply);
	progress_draw(run, 0);
	return rc == CTL_EXIT_OK ? 0 : -1;
}

/*
 * A URL that cannot be sent at all is rejected here, as the daemon would
 * reject it, and submitting goes on.  url NULL names it by its line or
 * argument number instead (too long to show, or not text).
 */
static int
submit_reject(struct submit_run *run, const char *url, const char *code,
    const char *msg)
{
	char what[48];

	run->p.rejected++;
	progress_yield(run);
	snprintf(what, sizeof(what), "%s %llu", run->unit,
	    (unsigned long long)run->item);
	if (run->ctx->json)
		fprintf(stderr, "sluicectl: %s not sent: %s: %s\n", what, code,
		    msg);
	else if (url == NULL)
		printf("%-9s - %s (%s: %s)\n", "rejected", what, code, msg);
	else
		printf("%-9s - %.*s%s (%s: %s)\n", "rejected", CTL_ECHO_MAX,
		    url, strlen(url) > CTL_ECHO_MAX ? "..." : "", code, msg);
	return 0;
}

/* Adds one URL to the batch, which is sent when full.  Returns 0, or -1
 * when submitting must stop. */
static int
submit_add(struct submit_run *run, const char *url)
{
	enum ctlclient_add r;

	if (ctlclient_batch_count(&run->batch) == 0)
		run->first = run->item;
	r = ctlclient_batch_add(&run->batch, url);
	if (r == CTLCLIENT_ADD_FULL) {
		if (submit_flush(run) == -1)
			return -1;
		run->first = run->item;
		r = ctlclient_batch_add(&run->batch, url);
	}
	if (r == CTLCLIENT_ADD_TOO_LONG)
		return submit_reject(run, url, "too_long",
		    "longer than the request limit (--max-request)");
	if (r == CTLCLIENT_ADD_BAD_UTF8)
		return submit_reject(run, NULL, "malformed", "not valid UTF-8");
	if (r != CTLCLIENT_ADD_OK) {
		fprintf(stderr, "sluicectl: out of memory\n");
		run->status = CTL_EXIT_FAILED;
		return -1;
	}
	if (ctlclient_batch_full(&run->batch))
		return submit_flush(run);
	return 0;
}

/* submit -: one URL per line, read as the batches go out. */
static int
submit_stdin(struct submit_run *run)
{
	size_t cap = run->opts->max_request + 2;
	char *line = xmalloc(cap), *url;
	struct stat st;
	int got, rc = 0;

	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
		run->p.total_bytes = (uint64_t)st.st_size;
	while (rc == 0) {
		got = ctlclient_read_url(stdin, line, cap, &url, &run->item);
		if (got == 0)
			break;
		if (got == 1)
			rc = submit_add(run, url);
		else
			rc = submit_reject(run, NULL, "too_long",
			    "longer than the request limit (--max-request)");
		progress_draw(run, 0);
	}
	if (ferror(stdin)) {
		progress_clear(run);
		fprintf(stderr, "sluicectl: reading stdin: %s\n",
		    strerror(errno));
		run->status = CTL_EXIT_FAILED;
	}
	free(line);
	return rc;
}

static void
submit_finish(struct submit_run *run)
{
	const struct ctlclient_progress *p = &run->p;
	uint64_t n = p->queued + p->duplicates + p->rejected + p->forwarded;

	if (run->drawn && isatty(STDOUT_FILENO))
		progress_clear(run);
	else if (run->drawn) {
		progress_draw(run, 1);
		fputc('\n', stderr);
	}
	if (!run->ctx->json && (!run->list_all || run->item > 1) &&
	    p->forwarded > 0)
		printf("%llu URL%s: %llu forwarded to the cluster, %llu "
		    "rejected\n", (unsigned long long)n, n == 1 ? "" : "s",
		    (unsigned long long)p->forwarded,
		    (unsigned long long)p->rejected);
	else if (!run->ctx->json && (!run->list_all || run->item > 1))
		printf("%llu URL%s: %llu queued, %llu duplicate, %llu "
		    "rejected\n", (unsigned long long)n, n == 1 ? "" : "s",
		    (unsigned long long)p->queued,
		    (unsigned long long)p->duplicates,
		    (unsigned long long)p->rejected);
	if (run->status == CTL_EXIT_OK && p->rejected > 0)
		run->status = CTL_EXIT_FAILED;
}

static int
submit_option(const struct ctl *ctx, int ch, char **argv,
    struct submit_opts *so)
{
	char t[40];
	uint64_t v;

	switch (ch) {
	case 'p':
		if (ctlclient_parse_uint(optarg + (optarg[0] == '-'), INT_MAX, &v) == -1)
			return usage_error(ctx, "--priority needs an integer");
		json_object_set_new(so->base, "priority", json_integer(
		    optarg[0] == '-' ? -(json_int_t)v : (json_int_t)v));
		return 0;
	case 'f':
		json_object_set_new(so->base, "force", json_true());
		return 0;
	case 'n':
		if (ctlclient_parse_time(optarg, now_ms(), &v) == -1)
			return usage_error(ctx, "bad time %s", optarg);
		json_object_set_new(so->base, "not_before",
		    json_string(fmt_time_ms(v, t, sizeof(t))));
		return 0;
	case 'b':
		if (ctlclient_parse_uint(optarg, UINT32_MAX, &so->batch) == -1 ||
		    so->batch == 0)
			return usage_error(ctx, "--batch needs a count > 0");
		so->batch_set = 1;
		return 0;
	case 'm':
		if (ctlclient_parse_uint(optarg, INT_MAX - 2, &so->max_request) == -1 ||
		    so->max_request < 2 * CTLCLIENT_REQUEST_OVERHEAD)
			return usage_error(ctx, "--max-request needs bytes "
			    ">= %d", 2 * CTLCLIENT_REQUEST_OVERHEAD);
		so->request_set = 1;
		return 0;
	default:
		return bad_option(ctx, ch, argv);
	}
}

static int
submit_parse(const struct ctl *ctx, int argc, char **argv,
    struct submit_opts *so)
{
	static const struct option lo[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "not-before", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "max-request", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc = 0;

	so->base = json_pack("{ss}", "cmd", "submit");
	so->batch = CTLCLIENT_BATCH_URLS_DEFAULT;
	so->max_request = CTLCLIENT_MAX_REQUEST_DEFAULT;
	cmd_getopt_reset();
	while (rc == 0 && (ch = getopt_long(argc, argv, ":", lo, NULL)) != -1)
		rc = submit_option(ctx, ch, argv, so);
	if (rc == 0 && optind == argc)
		rc = usage_error(ctx, "no URL given");
	for (int i = optind; rc == 0 && argc - optind > 1 && i < argc; i++)
		if (strcmp(argv[i], "-") == 0)
			rc = usage_error(ctx, "- must be the only URL");
	return rc;
}

/* A config value of the daemon's that ends in suffix, as a number. */
static int
config_number(const json_t *cfg, const char *key, const char *suffix,
    uint64_t *out)
{
	const char *v = json_string_value(json_object_get(cfg, key));
	char digits[32];
	size_t n;

	if (v == NULL)
		return -1;
	n = strlen(v) - strlen(suffix);
	if (strlen(v) < strlen(suffix) || n >= sizeof(digits) ||
	    strcmp(v + n, suffix) != 0)
		return -1;
	memcpy(digits, v, n);
	digits[n] = '\0';
	return ctlclient_parse_uint(digits, UINT64_MAX, out);
}

/*
 * Several URLs go out in batches: fit them to the daemon's queue.max_batch
 * and daemon.max_request (asked with `config`), so none is refused as
 * too_large.  --batch and --max-request are lowered to those limits when
 * larger.  A daemon that does not answer config keeps the defaults.
 */
static int
submit_fit(struct ctl *ctx, struct submit_opts *so)
{
	json_t *reply, *cfg;
	uint64_t v;

	int json = ctx->json, rc;

	ctx->json = 0;		/* not a reply the user asked for */
	rc = ctl_call(ctx, json_pack("{ss}", "cmd", "config"), &reply);
	ctx->json = json;
	if (rc == -1)
		return -1;
	cfg = json_object_get(reply, "config");
	if (json_is_true(json_object_get(reply, "ok"))) {
		if (config_number(cfg, "queue.max_batch", "", &v) == 0 &&
		    v > 0 && v < so->batch)
			so->batch = v;
		if (config_number(cfg, "daemon.max_request", "B", &v) == 0 &&
		    v >= 2 * CTLCLIENT_REQUEST_OVERHEAD && v < so->max_request)
			so->max_request = v;
	}
	json_decref(reply);
	return 0;
}

static int
do_submit(struct ctl *ctx, int argc, char **argv)
{
	struct submit_opts so;
	struct submit_run run = { .ctx = ctx, .opts = &so, .unit = "argument",
	    .list_all = 1 };
	int rc;

	rc = submit_parse(ctx, argc, argv, &so);
	/* One URL as an argument fits any limit: no need to ask. */
	if (rc == 0 && so.base != NULL && (argc - optind > 1 ||
	    strcmp(argv[optind], "-") == 0) && submit_fit(ctx, &so) == -1)
		rc = CTL_EXIT_UNREACHABLE;
	if (rc == 0 && (so.base == NULL || ctlclient_batch_init(&run.batch,
	    so.batch, so.max_request) == -1)) {
		fprintf(stderr, "sluicectl: out of memory\n");
		ctlclient_batch_free(&run.batch);
		rc = CTL_EXIT_FAILED;
	}
	if (rc != 0) {
		json_decref(so.base);
		return rc;
	}
	run.p.start_ms = mono_ms();
	if (strcmp(argv[optind], "-") == 0) {
		run.unit = "line";
		run.list_all = 0;
		run.progress = isatty(STDERR_FILENO);
		rc = submit_stdin(&run);
	}
	for (int i = optind; run.list_all && rc == 0 && i < argc; i++) {
		run.item++;
		rc = submit_add(&run, argv[i]);
	}
	if (rc == 0)
		submit_flush(&run);
	submit_finish(&run);
	ctlclient_batch_free(&run.batch);
	json_decref(so.base);
	return run.status;
}

static json_t *
request(const char *cmd)
{
	return json_pack("{ss}", "cmd", cmd);
}

/* The single operand of job/cancel/doc/retry: a job id. */
static int
parse_id(const struct ctl *ctx, int argc, char **argv, uint64_t *id)
{
	if (argc != 2)
		return usage_error(ctx, "needs exactly one job id");
	if (ctlclient_parse_uint(argv[1], INT64_MAX, id) == -1)
		return usage_error(ctx, "bad job id %s", argv[1]);
	return 0;
}

static json_t *
request_id(const char *cmd, uint64_t id)
{
	return json_pack("{sssI}", "cmd", cmd, "id", (json_int_t)id);
}

/* A command without arguments whose request is just its name. */
static int
ctl_bare(struct ctl *ctx, int argc, char **argv,
    void (*print)(FILE *, const json_t *))
{
	int rc = no_args(ctx, argc, argv);

	if (rc != 0)
		return rc;
	return ctl_simple(ctx, request(ctx->cmd->name), print);
}

/* A command whose one operand is a job id. */
static int
ctl_by_id(struct ctl *ctx, int argc, char **argv,
    void (*print)(FILE *, const json_t *))
{
	uint64_t id;
	int rc = parse_id(ctx, argc, argv, &id);

	if (rc != 0)
		return rc;
	return ctl_simple(ctx, request_id(ctx->cmd->name, id), print);
}

static int
do_status(struct ctl *ctx, int argc, char **argv)
{
	json_t *req;

	if (argc == 2 && strcmp(argv[1], "--cluster") == 0) {
		req = request("status");
		json_object_set_new(req, "cluster", json_true());
		return ctl_simple(ctx, req, ctlclient_print_cluster);
	}
	return ctl_bare(ctx, argc, argv, ctlclient_print_status);
}

static int
do_nodes(struct ctl *ctx, int argc, char **argv)
{
	return ctl_bare(ctx, argc, argv, ctlclient_print_nodes);
}

static int
do_job(struct ctl *ctx, int argc, char **argv)
{
	return ctl_by_id(ctx, argc, argv, ctlclient_print_job);
}


struct jobs_opts {
	const char	*state;
	uint64_t	 limit;		/* 0: the daemon's default */
	uint64_t	 after;
	int		 all;
};

static int
jobs_parse(const struct ctl *ctx, int argc, char **argv, struct jobs_opts *jo)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "after", required_argument, NULL, 'a' },
		{ "all", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 's')
			jo->state = optarg;
		else if (ch == 'A')
			jo->all = 1;
		else if (ch == 'l' && (ctlclient_parse_uint(optarg, CTL_JOBS_PAGE_MAX,
		    &jo->limit) == -1 || jo->limit == 0))
			return usage_error(ctx, "--limit needs 1 to %d",
			    CTL_JOBS_PAGE_MAX);
		else if (ch == 'a' && ctlclient_parse_uint(optarg, INT64_MAX,
		    &jo->after) == -1)
			return usage_error(ctx, "bad job id %s", optarg);
		else if (ch != 'l' && ch != 'a')
			return bad_option(ctx, ch, argv);
	}
	if (optind < argc)
		return usage_error(ctx, "unexpected argument %s", argv[optind]);
	if (jo->all && jo->limit == 0)
		jo->limit = CTL_JOBS_PAGE_MAX;
	return 0;
}

static json_t *
jobs_request(const struct jobs_opts *jo)
{
	json_t *req = request("jobs");

	if (req == NULL)
		return NULL;
	if (jo->state != NULL)
		json_object_set_new(req, "state", json_string(jo->state));
	if (jo->limit > 0)
		json_object_set_new(req, "limit", json_integer(
		    (json_int_t)jo->limit));
	if (jo->after > 0)
		json_object_set_new(req, "after", json_integer(
		    (json_int_t)jo->after));
	return req;
}

/* Prints one page; returns 1 and advances jo->after when another page
 * follows. */
static int
jobs_page(const struct ctl *ctx, const json_t *reply, struct jobs_opts *jo,
    int first)
{
	const json_t *jobs = json_object_get(reply, "jobs");
	const json_t *next = json_object_get(reply, "next");

	if (!ctx->json && first && json_array_size(jobs) == 0)
		printf("no jobs\n");
	else if (!ctx->json)
		ctlclient_print_jobs(stdout, jobs, first);
	/* A next that does not move on would loop forever. */
	if (!json_is_integer(next) || json_integer_value(next) <= 0 ||
	    (uint64_t)json_integer_value(next) == jo->after)
		return 0;
	jo->after = (uint64_t)json_integer_value(next);
	return 1;
}

static int
do_jobs(struct ctl *ctx, int argc, char **argv)
{
	struct jobs_opts jo = { 0 };
	json_t *reply;
	int rc, more, first = 1;

	rc = jobs_parse(ctx, argc, argv, &jo);
	if (rc != 0)
		return rc;
	do {
		if (ctl_call(ctx, jobs_request(&jo), &reply) == -1)
			return CTL_EXIT_UNREACHABLE;
		rc = ctl_check(ctx, reply);
		more = rc == CTL_EXIT_OK && jobs_page(ctx, reply, &jo, first);
		json_decref(reply);
		first = 0;
	} while (more && jo.all);
	if (more && !ctx->json)
		fprintf(stderr, "more: sluicectl jobs --after %llu (or --all)\n",
		    (unsigned long long)jo.after);
	return rc;
}

/*
 * Non-zero when url's host is host: a bare name ("example.org", any port),
 * "name:port", or an origin "scheme://name[:port]"; case is ignored.
 */
static int
url_on_host(const char *url, const char *host)
{
	const char *a = strstr(url, "://"), *end, *at, *h = host;
	size_t alen, hl;

	if (a == NULL)
		return 0;
	if (strstr(host, "://") != NULL) {
		if (strncasecmp(url, host, (size_t)(a - url + 3)) != 0)
			return 0;
		h = strstr(host, "://") + 3;
	}
	a += 3;
	end = a + strcspn(a, "/?#");
	at = memchr(a, '@', (size_t)(end - a));
	if (at != NULL)
		a = at + 1;
	alen = (size_t)(end - a);
	hl = strcspn(h, "/");
	if (hl == alen && strncasecmp(a, h, hl) == 0)
		return 1;
	/* A name without a port matches the authority's name part. */
	if (memchr(h, ':', hl) == NULL && hl < alen && a[hl] == ':' &&
	    strncasecmp(a, h, hl) == 0)
		return 1;
	return 0;
}

struct cancel_run {
	uint64_t	 cancelled;
	uint64_t	 failed;
};

/* Cancels one job; in text mode prints one line for it.  -1 when the
 * daemon cannot be reached. */
static int
cancel_one(struct ctl *ctx, uint64_t id, struct cancel_run *cr)
{
	json_t *reply;
	const json_t *j;
	char etext[1024];

	if (ctl_call(ctx, request_id("cancel", id), &reply) == -1)
		return -1;
	j = json_object_get(reply, "job");
	if (json_is_true(json_object_get(reply, "ok"))) {
		cr->cancelled++;
		if (!ctx->json)
			printf("cancelled %llu %s\n", (unsigned long long)id,
			    json_string_value(json_object_get(j, "url")) ?
			    json_string_value(json_object_get(j, "url")) : "");
	} else {
		cr->failed++;
		if (!ctx->json)
			fprintf(stderr, "sluicectl: cancel %llu failed: %s\n",
			    (unsigned long long)id, ctlclient_error_text(reply,
			    etext, sizeof(etext)));
	}
	json_decref(reply);
	return 0;
}

/*
 * cancel --state S / --host H: pages through `jobs` (of state S, else the
 * queued then the active ones) and cancels each job that matches, one
 * request each.
 */
static int
cancel_matching(struct ctl *ctx, const char *state, const char *host,
    struct cancel_run *cr)
{
	static const char *const live[] = { "queued", "active" };
	const char *const *states = state != NULL ? &state : live;
	size_t nstates = state != NULL ? 1 : ARRAY_LEN(live);
	int json = ctx->json, rc = CTL_EXIT_OK;

	for (size_t s = 0; s < nstates && rc == CTL_EXIT_OK; s++) {
		struct jobs_opts jo = { .state = states[s],
		    .limit = CTL_JOBS_PAGE_MAX };
		const json_t *next, *jobs, *j;
		json_t *reply;
		size_t i;
		int more = 1;

		while (more && rc == CTL_EXIT_OK) {
			ctx->json = 0;	/* the listing is ours, not output */
			if (ctl_call(ctx, jobs_request(&jo), &reply) == -1) {
				ctx->json = json;
				return CTL_EXIT_UNREACHABLE;
			}
			rc = ctl_check(ctx, reply);
			ctx->json = json;
			jobs = json_object_get(reply, "jobs");
			json_array_foreach(jobs, i, j) {
				const char *url = json_string_value(
				    json_object_get(j, "url"));

				if (rc != CTL_EXIT_OK || (host != NULL &&
				    (url == NULL || !url_on_host(url, host))))
					continue;
				if (cancel_one(ctx, (uint64_t)json_integer_value(
				    json_object_get(j, "id")), cr) == -1) {
					json_decref(reply);
					return CTL_EXIT_UNREACHABLE;
				}
			}
			next = json_object_get(reply, "next");
			more = json_is_integer(next) &&
			    json_integer_value(next) > 0 &&
			    (uint64_t)json_integer_value(next) != jo.after;
			if (more)
				jo.after = (uint64_t)json_integer_value(next);
			json_decref(reply);
		}
	}
	return rc;
}

static int
do_cancel(struct ctl *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *host = NULL;
	struct cancel_run cr = { 0, 0 };
	uint64_t id;
	int ch, rc = CTL_EXIT_OK;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 's')
			state = optarg;
		else if (ch == 'H')
			host = optarg;
		else
			return bad_option(ctx, ch, argv);
	}
	if ((state != NULL || host != NULL) && optind < argc)
		return usage_error(ctx, "give job ids, or --state/--host, not "
		    "both");
	if (state == NULL && host == NULL && optind == argc)
		return usage_error(ctx, "needs job ids, --state or --host");
	for (int i = optind; i < argc; i++)
		if (ctlclient_parse_uint(argv[i], INT64_MAX, &id) == -1)
			return usage_error(ctx, "bad job id %s", argv[i]);
	/* One id: the job as before. */
	if (argc - optind == 1) {
		ctlclient_parse_uint(argv[optind], INT64_MAX, &id);
		return ctl_simple(ctx, request_id("cancel", id),
		    ctlclient_print_job);
	}
	if (state != NULL || host != NULL)
		rc = cancel_matching(ctx, state, host, &cr);
	for (int i = optind; rc == CTL_EXIT_OK && i < argc; i++) {
		ctlclient_parse_uint(argv[i], INT64_MAX, &id);
		if (cancel_one(ctx, id, &cr) == -1)
			rc = CTL_EXIT_UNREACHABLE;
	}
	if (!ctx->json && rc != CTL_EXIT_UNREACHABLE)
		printf("%llu cancelled, %llu failed\n",
		    (unsigned long long)cr.cancelled,
		    (unsigned long long)cr.failed);
	if (rc == CTL_EXIT_OK && cr.failed > 0)
		rc = CTL_EXIT_FAILED;
	return rc;
}

static int
do_dups(struct ctl *ctx, int argc, char **argv)
{
	return ctl_by_id(ctx, argc, argv, ctlclient_print_dups);
}

static void
print_site(FILE *f, const json_t *r)
{
	const json_t *list = json_object_get(r, "dropped"), *e;
	size_t i;

	fprintf(f, "site: %s\n", json_string_value(json_object_get(r,
	    "site")));
	if (!json_is_true(json_object_get(r, "enabled"))) {
		fprintf(f, "site memory: off (extract.site_memory)\n");
		return;
	}
	fprintf(f, "lines: %lld\nrepeated: %lld\npages_dropped: %lld\n",
	    (long long)json_integer_value(json_object_get(r, "lines")),
	    (long long)json_integer_value(json_object_get(r, "repeated")),
	    (long long)json_integer_value(json_object_get(r,
	    "pages_dropped")));
	json_array_foreach(list, i, e)
		fprintf(f, "%s%6lld  %s\n", i == 0 ? "dropped most (pages, "
		    "line):\n" : "", (long long)json_integer_value(
		    json_object_get(e, "pages")), json_string_value(
		    json_object_get(e, "text")));
}

/* The site memory of one site. */
static int
do_site_memory(struct ctl *ctx, int argc, char **argv)
{
	json_t *req;

	if (argc != 2)
		return usage_error(ctx, "site takes one HOST, or add URL");
	req = request("site");
	json_object_set_new(req, "site", json_string(argv[1]));
	return ctl_simple(ctx, req, print_site);
}

static void
print_reclean(FILE *f, const json_t *r)
{
	const char *site = json_string_value(json_object_get(r, "site"));

	fprintf(f, "reclean started (%s); see status\n", site ? site :
	    "every site");
}

#define RECLEAN_POLL_MS	200

/* reclean --wait: polls status until the pass ends, then prints its
 * counts (with --json, the status's reclean object alone). */
static int
reclean_wait(struct ctl *ctx)
{
	const json_t *r;
	json_t *st;
	int rc, json = ctx->json;

	ctx->json = 0;		/* the polls are not echoed */
	for (;;) {
		if (ctl_call(ctx, request("status"), &st) == -1)
			return CTL_EXIT_UNREACHABLE;
		if ((rc = ctl_check(ctx, st)) != CTL_EXIT_OK) {
			json_decref(st);
			return rc;
		}
		r = json_object_get(st, "reclean");
		if (!json_is_true(json_object_get(r, "running")))
			break;
		json_decref(st);
		poll(NULL, 0, RECLEAN_POLL_MS);
	}
	ctx->json = json;
	if (json) {
		json_dumpf(r, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	} else
		printf("%lld re-cleaned, %lld changed, %lld duplicate links "
		    "changed, %lld failed, %lld without a stored body (%lld "
		    "in WARC records that could not be read back)\n",
		    (long long)json_integer_value(json_object_get(r, "cleaned")),
		    (long long)json_integer_value(json_object_get(r, "changed")),
		    (long long)json_integer_value(json_object_get(r,
		    "relinked")), (long long)json_integer_value(
		    json_object_get(r, "failed")), (long long)
		    json_integer_value(json_object_get(r, "skipped")),
		    (long long)json_integer_value(json_object_get(r,
		    "unreadable")));
	/* A body that is there but cannot be read is a failure too. */
	rc = json_integer_value(json_object_get(r, "failed")) > 0 ||
	    json_integer_value(json_object_get(r, "unreadable")) > 0 ?
	    CTL_EXIT_FAILED : CTL_EXIT_OK;
	json_decref(st);
	return rc;
}

/* Starts a re-cleaning pass. */
static int
do_reclean(struct ctl *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "since", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req = request("reclean");
	char t[40];
	uint64_t ms;
	int ch, any = 0, wait = 0, json, rc;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 'w') {
			wait = 1;
			continue;
		}
		any = 1;
		if (ch == 'H')
			json_object_set_new(req, "host", json_string(optarg));
		else if (ch == 'a')
			json_object_set_new(req, "all", json_true());
		else if (ch != 's') {
			json_decref(req);
			return bad_option(ctx, ch, argv);
		} else if (ctlclient_parse_time(optarg, now_ms(), &ms) == -1) {
			json_decref(req);
			return usage_error(ctx, "bad time %s", optarg);
		} else
			json_object_set_new(req, "since", json_string(
			    fmt_time_ms(ms, t, sizeof(t))));
	}
	if (!any || optind < argc) {
		json_decref(req);
		return usage_error(ctx, "needs --host, --since or --all");
	}
	if (!wait)
		return ctl_simple(ctx, req, print_reclean);
	/* With --json, one line: the counts at the end, not the start. */
	json = ctx->json;
	ctx->json = 0;
	rc = ctl_simple(ctx, req, NULL);
	ctx->json = json;
	return rc == CTL_EXIT_OK ? reclean_wait(ctx) : rc;
}

/* Every host, a page at a time. */
static int
do_hosts(struct ctl *ctx, int argc, char **argv)
{
	uint64_t after = 0;
	int rc, first = 1;
	json_t *reply;

	if (argc != 1)
		return usage_error(ctx, "hosts takes no argument");
	for (;;) {
		json_t *req = request("hosts"), *next;

		json_object_set_new(req, "limit", json_integer(CTL_JOBS_PAGE_MAX));
		if (after > 0)
			json_object_set_new(req, "after", json_integer(
			    (json_int_t)after));
		if (ctl_call(ctx, req, &reply) == -1)
			return CTL_EXIT_UNREACHABLE;
		rc = ctl_check(ctx, reply);
		if (rc == CTL_EXIT_OK && !ctx->json)
			ctlclient_print_hosts(stdout, json_object_get(reply,
			    "hosts"), first);
		next = json_object_get(reply, "next");
		first = 0;
		if (rc != CTL_EXIT_OK || !json_is_integer(next) ||
		    (uint64_t)json_integer_value(next) == after) {
			json_decref(reply);
			return rc;
		}
		after = (uint64_t)json_integer_value(next);
		json_decref(reply);
	}
}

/* doc --raw: the reply line, then raw_bytes bytes of body and "\n". */
static int
doc_raw(struct ctl *ctx, json_t *req)
{
	json_t *reply;
	json_int_t n;
	char err[512];
	int rc;

	json_object_set_new(req, "raw", json_true());
	if (ctl_call(ctx, req, &reply) == -1)
		return CTL_EXIT_UNREACHABLE;
	rc = ctl_check(ctx, reply);
	n = json_integer_value(json_object_get(reply, "raw_bytes"));
	json_decref(reply);
	if (rc != CTL_EXIT_OK)
		return rc;
	/* With --json, the protocol's bytes as they came, newline included. */
	if (n < 0 || ctlclient_read_bytes(&ctx->conn, (size_t)n, stdout, err,
	    sizeof(err)) == -1 || ctlclient_read_bytes(&ctx->conn, 1,
	    ctx->json ? stdout : NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "sluicectl: %s: %s\n", ctx->socket, n < 0 ?
		    "bad raw_bytes in the reply" : err);
		return CTL_EXIT_UNREACHABLE;
	}
	return CTL_EXIT_OK;
}

static int
do_doc(struct ctl *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "raw", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req;
	uint64_t id;
	int ch, raw = 0;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 'r')
			raw = 1;
		else
			return bad_option(ctx, ch, argv);
	}
	if (argc - optind != 1)
		return usage_error(ctx, "needs one document id or URL");
	if (ctlclient_parse_uint(argv[optind], INT64_MAX, &id) == 0)
		req = request_id("doc", id);
	else
		req = json_pack("{ssss}", "cmd", "doc", "url", argv[optind]);
	if (req == NULL) {
		fprintf(stderr, "sluicectl: out of memory\n");
		return CTL_EXIT_FAILED;
	}
	if (raw)
		return doc_raw(ctx, req);
	return ctl_simple(ctx, req, ctlclient_print_doc);
}

static int
sluicectl_export_parse(struct ctl *ctx, int argc, char **argv, json_t *req)
{
	static const struct option lo[] = {
		{ "since", required_argument, NULL, 's' },
		{ "include-duplicates", no_argument, NULL, 'd' },
		{ "duplicates", required_argument, NULL, 'D' },
		{ "host", required_argument, NULL, 'H' },
		{ "min-words", required_argument, NULL, 'w' },
		{ "format", required_argument, NULL, 'f' },
		{ "progress-timeout", required_argument, NULL, 'p' },
		{ "cluster", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	char t[40];
	uint64_t ms, n;
	int ch;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 'c')
			json_object_set_new(req, "cluster", json_true());
		else if (ch == 'd')
			json_object_set_new(req, "duplicates",
			    json_string("include"));
		else if (ch == 'D') {
			if (strcmp(optarg, "include") != 0 &&
			    strcmp(optarg, "exclude") != 0 &&
			    strcmp(optarg, "only") != 0)
				return usage_error(ctx, "--duplicates is "
				    "include, exclude or only");
			json_object_set_new(req, "duplicates",
			    json_string(optarg));
		} else if (ch == 'H')
			json_object_set_new(req, "host", json_string(optarg));
		else if (ch == 'f') {
			/* warc is written here, from the documents as stored. */
			ctx->export_warc = strcmp(optarg, "warc") == 0;
			if (strcmp(optarg, "jsonl") != 0 &&
			    strcmp(optarg, "trafilatura") != 0 &&
			    !ctx->export_warc)
				return usage_error(ctx, "--format is jsonl, "
				    "trafilatura or warc");
			if (!ctx->export_warc)
				json_object_set_new(req, "format",
				    json_string(optarg));
		}
		else if (ch == 'w') {
			if (ctlclient_parse_uint(optarg, 1000000000, &n) == -1)
				return usage_error(ctx, "--min-words needs a "
				    "number");
			json_object_set_new(req, "min_words",
			    json_integer((json_int_t)n));
		} else if (ch == 'p') {
			if (ctlclient_parse_seconds(optarg,
			    &ctx->progress_ms) == -1)
				return usage_error(ctx, "--progress-timeout "
				    "needs seconds");
		} else if (ch != 's')
			return bad_option(ctx, ch, argv);
		else if (ctlclient_parse_time(optarg, now_ms(), &ms) == -1)
			return usage_error(ctx, "bad time %s", optarg);
		else
			json_object_set_new(req, "since", json_string(
			    fmt_time_ms(ms, t, sizeof(t))));
	}
	if (optind < argc)
		return usage_error(ctx, "unexpected argument %s", argv[optind]);
	return 0;
}

/* Writes one document as a JSON line; -1 when stdout failed. */
static int
sluicectl_export_doc(struct ctl *ctx, const json_t *line)
{
	if (ctx->json)
		return ferror(stdout) ? -1 : 0;
	if (ctx->export_warc)
		return warcout_doc(&ctx->warc,
		    json_object_get(line, "doc"));
	if (json_dumpf(json_object_get(line, "doc"), stdout, JSON_COMPACT) ==
	    -1 || fputc('\n', stdout) == EOF)
		return -1;
	return 0;
}

/* A damaged record's error line: said on stderr, and the export goes on
 * (docs/protocol.md). */
static void
sluicectl_export_damaged(const json_t *line)
{
	const json_t *err = json_object_get(line, "error");

	fprintf(stderr, "sluicectl: export: record %lld: %s\n",
	    (long long)json_integer_value(json_object_get(line, "id")),
	    json_string_value(json_object_get(err, "message")) ?
	    json_string_value(json_object_get(err, "message")) : "damaged");
}

/*
 * Streams the data lines to stdout as they arrive, so memory stays at one
 * document whatever the export's size.  Damaged records are named on
 * stderr, and make the exit status 1 once the export is through.
 */
static int
sluicectl_export_stream(struct ctl *ctx)
{
	json_t *line;
	int rc = -1;

	while (rc == -1) {
		if (ctl_read(ctx, &line) == -1)
			return CTL_EXIT_UNREACHABLE;
		if (json_object_get(line, "ok") != NULL) {
			rc = ctl_check(ctx, line);
			if (rc == CTL_EXIT_OK && json_integer_value(
			    json_object_get(line, "damaged")) > 0)
				rc = CTL_EXIT_FAILED;
		} else if (json_object_get(line, "error") != NULL)
			sluicectl_export_damaged(line); else if (sluicectl_export_doc(ctx, line) == -1) {
			fprintf(stderr, "sluicectl: writing stdout: %s\n",
			    strerror(errno));
			rc = CTL_EXIT_FAILED;
		}
		if (rc == CTL_EXIT_OK && !ctx->json && isatty(STDERR_FILENO))
			fprintf(stderr, "exported %lld documents\n",
			    (long long)json_integer_value(json_object_get(line,
			    "count")));
		json_decref(line);
	}
	return rc;
}

static int
do_export(struct ctl *ctx, int argc, char **argv)
{
	json_t *req = request("export"), *early;
	int rc;

	if (req == NULL) {
		fprintf(stderr, "sluicectl: out of memory\n");
		return CTL_EXIT_FAILED;
	}
	ctx->progress_ms = ctx->timeout_set ? ctx->timeout_ms :
	    CTL_EXPORT_PROGRESS_MS;
	rc = sluicectl_export_parse(ctx, argc, argv, req);
	if (rc != 0) {
		json_decref(req);
		return rc;
	}
	/* Each line of the stream must come within it (ctl_read): a stream
	 * that stops moving is an error, not a hang. */
	ctx->timeout_ms = ctx->progress_ms;
	if (ctl_send(ctx, req, &early) == -1)
		return CTL_EXIT_UNREACHABLE;
	if (early != NULL) {
		rc = ctl_check(ctx, early);
		json_decref(early);
		return rc;
	}
	if (ctx->export_warc && !ctx->json &&
	    warcout_begin(&ctx->warc, stdout, SLUICE_VERSION) == -1) {
		fprintf(stderr, "sluicectl: writing stdout: %s\n",
		    strerror(errno));
		return CTL_EXIT_FAILED;
	}
	if (ctx->json)
		ctx->export_warc = 0;	/* the daemon's lines, as they are */
	rc = sluicectl_export_stream(ctx);
	if (ctx->export_warc) {
		if (ctx->warc.skipped > 0)
			fprintf(stderr, "sluicectl: export: %llu exact copies "
			    "left out of the WARC: their text is their first "
			    "document's\n",
			    (unsigned long long)ctx->warc.skipped);
		warcout_end(&ctx->warc);
	}
	return rc;
}

static int
do_pause(struct ctl *ctx, int argc, char **argv)
{
	return ctl_bare(ctx, argc, argv, ctlclient_print_paused);
}

static int
do_resume(struct ctl *ctx, int argc, char **argv)
{
	return ctl_bare(ctx, argc, argv, ctlclient_print_paused);
}

static int
do_retry(struct ctl *ctx, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--failed") == 0)
		return ctl_simple(ctx, json_pack("{sssb}", "cmd", "retry",
		    "failed", 1), ctlclient_print_retried);
	return ctl_by_id(ctx, argc, argv, ctlclient_print_retried);
}

/* The [--timeout S] of drain and wait, passed on to the daemon. */
static int
timeout_parse(const struct ctl *ctx, int argc, char **argv, json_t *req)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t secs;
	int ch;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch != 't')
			return bad_option(ctx, ch, argv);
		if (ctlclient_parse_uint(optarg, INT32_MAX, &secs) == -1)
			return usage_error(ctx, "--timeout needs seconds");
		json_object_set_new(req, "timeout", json_integer(
		    (json_int_t)secs));
	}
	if (optind < argc)
		return usage_error(ctx, "unexpected argument %s", argv[optind]);
	return 0;
}

/* drain and wait: one request that may take long, with --timeout. */
static int
ctl_waiting(struct ctl *ctx, int argc, char **argv,
    void (*print)(FILE *, const json_t *))
{
	json_t *req = request(ctx->cmd->name);
	int rc;

	rc = req == NULL ? 0 : timeout_parse(ctx, argc, argv, req);
	if (rc != 0) {
		json_decref(req);
		return rc;
	}
	return ctl_simple(ctx, req, print);
}

static int
do_drain(struct ctl *ctx, int argc, char **argv)
{
	return ctl_waiting(ctx, argc, argv, ctlclient_print_drained);
}

/* How often wait redraws its status line on a terminal. */
#define WAIT_POLL_MS	500

/*
 * The earliest not_before (epoch ms) among queued jobs that have been
 * tried already (retries), from the first page of queued jobs; 0 when
 * none is found.
 */
static uint64_t
wait_next_retry(struct ctl *ctx)
{
	struct jobs_opts jo = { .state = "queued", .limit = CTL_JOBS_PAGE_MAX };
	const json_t *j;
	json_t *reply;
	uint64_t best = 0, t;
	size_t i;

	if (ctl_call(ctx, jobs_request(&jo), &reply) == -1)
		return 0;
	json_array_foreach(json_object_get(reply, "jobs"), i, j) {
		const char *nb = json_string_value(json_object_get(j,
		    "not_before"));

		if (json_integer_value(json_object_get(j, "attempts")) > 0 &&
		    nb != NULL && parse_time_ms(nb, &t) == 0 &&
		    (best == 0 || t < best))
			best = t;
	}
	json_decref(reply);
	return best;
}

/* One status line: the counts by state, and the next retry's time when
 * only retries remain. */
static void
wait_draw(struct ctl *ctx, const json_t *st)
{
	const json_t *jobs = json_object_get(st, "jobs");
	json_int_t q = json_integer_value(json_object_get(jobs, "queued"));
	json_int_t a = json_integer_value(json_object_get(jobs, "active"));
	char line[256], when[40], in[32];
	uint64_t next = 0, now = now_ms();
	int n;

	n = snprintf(line, sizeof(line), "waiting: %lld queued, %lld active, "
	    "%lld done, %lld failed, %lld cancelled", (long long)q,
	    (long long)a,
	    (long long)json_integer_value(json_object_get(jobs, "done")),
	    (long long)json_integer_value(json_object_get(jobs, "failed")),
	    (long long)json_integer_value(json_object_get(jobs,
	    "cancelled")));
	if (q > 0 && a == 0 && json_integer_value(json_object_get(st,
	    "inflight")) == 0)
		next = wait_next_retry(ctx);
	if (next > now && n > 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, "; next retry %s "
		    "(in %s)", fmt_time_ms(next, when, sizeof(when)),
		    ctlclient_fmt_duration((next - now + 999) / 1000, in,
		    sizeof(in)));
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
}

/*
 * wait on a terminal: polls status and keeps a status line on stderr
 * until no job is queued or active, then prints what the daemon's wait
 * would.  --timeout is kept here.
 */
static int
wait_tty(struct ctl *ctx, json_t *req)
{
	json_int_t secs = json_integer_value(json_object_get(req, "timeout"));
	uint64_t deadline = json_object_get(req, "timeout") != NULL ?
	    mono_ms() + (uint64_t)secs * 1000 : 0;
	json_t *st;
	int rc = CTL_EXIT_OK;

	json_decref(req);
	for (;;) {
		const json_t *jobs;

		if (ctl_call(ctx, request("status"), &st) == -1) {
			rc = CTL_EXIT_UNREACHABLE;
			break;
		}
		if ((rc = ctl_check(ctx, st)) != CTL_EXIT_OK) {
			json_decref(st);
			break;
		}
		jobs = json_object_get(st, "jobs");
		if (json_integer_value(json_object_get(jobs, "queued")) == 0 &&
		    json_integer_value(json_object_get(jobs, "active")) == 0) {
			json_decref(st);
			fputs("\r\033[K", stderr);
			printf("idle: 0 queued, 0 active\n");
			return CTL_EXIT_OK;
		}
		wait_draw(ctx, st);
		json_decref(st);
		if (deadline != 0 && mono_ms() >= deadline) {
			fprintf(stderr, "\nsluicectl: wait failed: timeout: jobs "
			    "still queued or active after %llds\n",
			    (long long)secs);
			return CTL_EXIT_FAILED;
		}
		poll(NULL, 0, WAIT_POLL_MS);
	}
	fputc('\n', stderr);
	return rc;
}

static int
do_wait(struct ctl *ctx, int argc, char **argv)
{
	json_t *req;
	int rc;

	if (ctx->json || !isatty(STDERR_FILENO))
		return ctl_waiting(ctx, argc, argv, ctlclient_print_idle);
	req = request("wait");
	rc = req == NULL ? 0 : timeout_parse(ctx, argc, argv, req);
	if (rc != 0 || req == NULL) {
		json_decref(req);
		return rc != 0 ? rc : CTL_EXIT_FAILED;
	}
	return wait_tty(ctx, req);
}

static int
do_config(struct ctl *ctx, int argc, char **argv)
{
	char val[4096];
	const json_t *cfg, *v;
	json_t *reply;
	int rc;

	if (ctl_call(ctx, request("config"), &reply) == -1)
		return CTL_EXIT_UNREACHABLE;
	rc = ctl_check(ctx, reply);
	if (rc == CTL_EXIT_OK && !ctx->json && argc == 1)
		ctlclient_print_config(stdout, reply);
	cfg = json_object_get(reply, "config");
	for (int i = 1; rc == CTL_EXIT_OK && i < argc; i++) {
		v = json_object_get(cfg, argv[i]);
		if (!json_is_string(v)) {
			fprintf(stderr, "sluicectl: config: no key %s (keys are "
			    "section.key; sluicectl config lists them)\n",
			    argv[i]);
			rc = CTL_EXIT_FAILED;
		} else if (!ctx->json)
			printf("%s = %s\n", argv[i], ctlclient_fmt_config_value(
			    json_string_value(v), val, sizeof(val)));
	}
	json_decref(reply);
	return rc;
}

static int
do_reload(struct ctl *ctx, int argc, char **argv)
{
	return ctl_bare(ctx, argc, argv, ctlclient_print_reload);
}

/* Longest "name args" that still gets its help on the same line. */
#define USAGE_SYNOPSIS_MAX	24

static void
usage_cmd(FILE *out, const struct ctl_cmd *c, int width)
{
	char syn[256];

	snprintf(syn, sizeof(syn), "%s%s%s", c->name, *c->args ? " " : "",
	    c->args);
	if ((int)strlen(syn) <= width)
		fprintf(out, "  %-*s  %s\n", width, syn, c->help);
	else
		fprintf(out, "  %s\n  %-*s  %s\n", syn, width, "", c->help);
}

static int
usage_width(void)
{
	int w = 0, n;

	for (size_t i = 0; i < ARRAY_LEN(ctl_cmds); i++) {
		n = (int)(strlen(ctl_cmds[i].name) + 1 +
		    strlen(ctl_cmds[i].args));
		if (n <= USAGE_SYNOPSIS_MAX && n > w)
			w = n;
	}
	return w;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: sluicectl [-s PATH] [-t SECONDS] [--json] "
	    "COMMAND [ARGS]\n\n"
	    "options:\n"
	    "  -s PATH     control socket (default $SLUICE_SOCKET, else\n"
	    "              $RUNTIME_DIRECTORY/control.sock, else "
	    CTLCLIENT_SOCKET_DEFAULT ")\n"
	    "  -t SECONDS  limit for connecting and for each reply "
	    "(default %d, 0 = none)\n"
	    "  --json      print the daemon's replies as they are, one JSON "
	    "object a line\n"
	    "  -h, --help  print this help;  -V, --version  print the "
	    "version\n\n"
	    "commands (a unique prefix is enough):\n",
	    CTL_TIMEOUT_DEFAULT_MS / 1000);
	for (size_t i = 0; i < ARRAY_LEN(ctl_cmds); i++)
		usage_cmd(out, &ctl_cmds[i], usage_width());
}

/* One command's synopsis, then its options and formats. */
static void
cmd_help(FILE *out, const struct ctl_cmd *c)
{
	fprintf(out, "usage: sluicectl [-s PATH] [-t SECONDS] [--json] %s%s%s\n\n",
	    c->name, *c->args ? " " : "", c->args);
	for (size_t i = 0; i < ARRAY_LEN(ctl_help); i++)
		if (strcmp(ctl_help[i].name, c->name) == 0) {
			fputs(ctl_help[i].text, out);
			return;
		}
	fprintf(out, "%s\n", c->help);
}

/* Non-zero when a command's arguments ask for its help: --help or -h,
 * before any "--". */
static int
wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/* Finds a command by name or unique prefix; says why when it cannot. */
static const struct ctl_cmd *
ctl_lookup(const char *word)
{
	const char *names[ARRAY_LEN(ctl_cmds)];
	enum ctlclient_match m;
	size_t idx = 0;

	for (size_t i = 0; i < ARRAY_LEN(ctl_cmds); i++)
		names[i] = ctl_cmds[i].name;
	m = ctlclient_match(word, names, ARRAY_LEN(names), &idx);
	if (m == CTLCLIENT_MATCH_FOUND)
		return &ctl_cmds[idx];
	fprintf(stderr, "sluicectl: %s command: %s\n",
	    m == CTLCLIENT_MATCH_AMBIGUOUS ? "ambiguous" : "unknown", word);
	ctlclient_possibilities(stderr, word, names, ARRAY_LEN(names));
	return NULL;
}

/* --- watch ------------------------------------------------------- */

#define WATCH_INTERVAL_MS	1000
#define WATCH_INTERVAL_MIN_MS	100
#define WATCH_HOSTS_MAX		100

static volatile sig_atomic_t watch_stop, watch_resized;

static void
watch_on_signal(int sig)
{
	if (sig == SIGWINCH)
		watch_resized = 1;
	else
		watch_stop = 1;
}

struct watch_opts {
	uint64_t	 interval_ms;
	uint64_t	 hosts;
	uint64_t	 count;		/* refreshes; 0 = until stopped */
};

static int
watch_parse(struct ctl *ctx, int argc, char **argv, struct watch_opts *wo)
{
	static const struct option lo[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 'i' && (ctlclient_parse_seconds(optarg,
		    &wo->interval_ms) == -1 ||
		    wo->interval_ms < WATCH_INTERVAL_MIN_MS))
			return usage_error(ctx, "--interval needs seconds, "
			    "0.1 at least");
		else if (ch == 'H' && ctlclient_parse_uint(optarg,
		    WATCH_HOSTS_MAX, &wo->hosts) == -1)
			return usage_error(ctx, "--hosts needs 0 to %d",
			    WATCH_HOSTS_MAX);
		else if (ch == 'c' && ctlclient_parse_uint(optarg, INT64_MAX,
		    &wo->count) == -1)
			return usage_error(ctx, "bad --count %s", optarg);
		else if (ch == 'j')
			ctx->json = 1;
		else if (ch != 'i' && ch != 'H' && ch != 'c')
			return bad_option(ctx, ch, argv);
	}
	if (optind < argc)
		return usage_error(ctx, "unexpected argument %s", argv[optind]);
	return 0;
}

/* Waits up to ms for the interval to pass; reads keys when keys is set.
 * Returns early on q, a signal or a resize. */
static void
watch_pause(uint64_t ms, int keys)
{
	uint64_t end = mono_ms() + ms, now;
	struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
	char c;

	while (!watch_stop && !watch_resized && (now = mono_ms()) < end) {
		int n = poll(&p, keys ? 1 : 0, (int)(end - now));
		if (n <= 0 || !(p.revents & (POLLIN | POLLHUP)))
			continue;
		if (read(STDIN_FILENO, &c, 1) != 1) {
			keys = 0;	/* stdin closed: keep watching */
			continue;
		}
		if (c == 'q' || c == 'Q' || c == 3)
			watch_stop = 1;
	}
}

static void
watch_size(int *w, int *h)
{
	struct winsize ws;

	*w = 80;
	*h = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		*w = ws.ws_col;
		*h = ws.ws_row;
	}
}

/*
 * On a terminal: the alternate screen, redrawn every interval, q or
 * Ctrl-C to quit.  Otherwise one line per interval (--json: the stats
 * reply itself), until a signal or --count refreshes.
 */
static int
do_watch(struct ctl *ctx, int argc, char **argv)
{
	struct watch_opts wo = { WATCH_INTERVAL_MS, 10, 0 };
	struct sigaction sa;
	struct termios saved, raw;
	int tty, keys = 0, rc = CTL_EXIT_OK, w, h;
	uint64_t n = 0;

	if (watch_parse(ctx, argc, argv, &wo) != 0)
		return CTL_EXIT_USAGE;
	tty = !ctx->json && isatty(STDOUT_FILENO);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_on_signal;	/* no SA_RESTART: poll wakes */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) ==
	    0) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		keys = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	if (tty)
		fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
	while (!watch_stop) {
		json_t *reply = NULL;

		watch_resized = 0;
		if (ctl_call(ctx, json_pack("{s:s, s:I}", "cmd", "stats",
		    "hosts", (json_int_t)wo.hosts), &reply) == -1) {
			rc = CTL_EXIT_UNREACHABLE;
			break;
		}
		if (json_is_true(json_object_get(reply, "ok"))) {
			if (tty) {
				watch_size(&w, &h);
				watch_draw(stdout, reply, w, h,
				    (unsigned long)wo.interval_ms);
			} else if (!ctx->json)
				watch_line(stdout, reply);
			else
				fflush(stdout);
		} else
			rc = ctl_check(ctx, reply);
		json_decref(reply);
		if (rc != CTL_EXIT_OK || (wo.count && ++n >= wo.count))
			break;
		watch_pause(wo.interval_ms, keys);
	}
	if (tty)
		fputs("\033[?25h\033[?1049l", stdout);
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	fflush(stdout);
	return rc;
}

/* --- feeds and sites ------------------------------------------------ */

/* A DURATION: N seconds, or N with s, m, h or d.  0, or -1. */
static int
feed_parse_duration(const char *s, uint64_t *secs)
{
	static const struct { char unit; uint64_t mul; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char digits[32];
	size_t n = strlen(s);
	uint64_t mul = 1;

	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n + 1);
	for (size_t i = 0; i < ARRAY_LEN(units); i++)
		if (digits[n - 1] == units[i].unit) {
			digits[--n] = '\0';
			mul = units[i].mul;
		}
	if (ctlclient_parse_uint(digits, UINT32_MAX, secs) == -1)
		return -1;
	*secs *= mul;
	return 0;
}

/* --priority and --interval of feed add and site add into req. */
static int
feed_options(struct ctl *ctx, int argc, char **argv, json_t *req,
    int interval)
{
	static const struct option lo[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	cmd_getopt_reset();
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (ch == 'p') {
			if (ctlclient_parse_uint(optarg + (optarg[0] == '-'),
			    INT_MAX, &v) == -1)
				return usage_error(ctx, "--priority needs an "
				    "integer");
			json_object_set_new(req, "priority", json_integer(
			    optarg[0] == '-' ? -(json_int_t)v : (json_int_t)v));
		} else if (ch == 'i' && interval) {
			if (feed_parse_duration(optarg, &v) == -1 || v == 0)
				return usage_error(ctx, "--interval needs a "
				    "duration: N, Ns, Nm, Nh or Nd");
			json_object_set_new(req, "interval",
			    json_integer((json_int_t)v));
		} else
			return bad_option(ctx, ch, argv);
	}
	if (argc - optind != 1)
		return usage_error(ctx, "needs one URL");
	json_object_set_new(req, "url", json_string(argv[optind]));
	return 0;
}

static void
print_feed(FILE *out, const json_t *reply)
{
	ctlclient_print_object(out, json_object_get(reply, "feed"));
}

/* "12m", "3h": an interval in the unit that fits it. */
static const char *
feed_interval_text(json_int_t s, char *buf, size_t len)
{
	if (s % 86400 == 0 && s > 0)
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0 && s > 0)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0 && s > 0)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
	return buf;
}

static const char *
feed_str(const json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));

	return s != NULL ? s : "-";
}

static void
print_feeds(FILE *out, const json_t *reply)
{
	const json_t *list = json_object_get(reply, "feeds"), *f;
	char iv[32];
	size_t i;

	fprintf(out, "%6s  %-7s  %8s  %-24s  %-24s  %-16s  %6s  %s\n", "ID",
	    "KIND", "INTERVAL", "NEXT POLL", "LAST POLL", "LAST RESULT",
	    "NEW 1D", "URL");
	json_array_foreach(list, i, f)
		fprintf(out, "%6lld  %-7s  %8s  %-24s  %-24s  %-16s  %6lld  "
		    "%s\n", (long long)json_integer_value(json_object_get(f,
		    "id")), feed_str(f, "kind"), feed_interval_text(
		    json_integer_value(json_object_get(f, "interval_s")), iv,
		    sizeof(iv)), feed_str(f, "next_poll"),
		    feed_str(f, "last_poll"), feed_str(f, "last_result"),
		    (long long)json_integer_value(json_object_get(f,
		    "entries_1d")), feed_str(f, "url"));
}

static int
do_feed(struct ctl *ctx, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	json_t *req;
	uint64_t id;

	if (strcmp(sub, "add") == 0) {
		req = request("feed_add");
		if (feed_options(ctx, argc - 1, argv + 1, req, 1) != 0) {
			json_decref(req);
			return CTL_EXIT_USAGE;
		}
		return ctl_simple(ctx, req, print_feed);
	}
	if (strcmp(sub, "rm") == 0 && argc == 3) {
		req = request("feed_rm");
		if (ctlclient_parse_uint(argv[2], INT64_MAX, &id) == 0)
			json_object_set_new(req, "id", json_integer(
			    (json_int_t)id));
		else
			json_object_set_new(req, "url", json_string(argv[2]));
		return ctl_simple(ctx, req, print_feed);
	}
	if (strcmp(sub, "show") == 0 && argc == 3) {
		if (ctlclient_parse_uint(argv[2], INT64_MAX, &id) == -1)
			return usage_error(ctx, "bad source id %s", argv[2]);
		return ctl_simple(ctx, request_id("feed", id), print_feed);
	}
	return usage_error(ctx, "feed add URL | feed rm ID|URL | feed show ID");
}

static int
do_feeds(struct ctl *ctx, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		ctx->json = 1;
	else if (argc != 1)
		return usage_error(ctx, "feeds takes only --json");
	/* The request's name is "feeds" already. */
	return ctl_simple(ctx, request("feeds"), print_feeds);
}

/* site HOST: the site memory; site add URL: the site's sources. */
static int
do_site(struct ctl *ctx, int argc, char **argv)
{
	json_t *req;

	if (argc < 2 || strcmp(argv[1], "add") != 0)
		return do_site_memory(ctx, argc, argv);
	req = request("site_add");
	if (feed_options(ctx, argc - 1, argv + 1, req, 0) != 0) {
		json_decref(req);
		return CTL_EXIT_USAGE;
	}
	return ctl_simple(ctx, req, print_feed);
}

static int
do_help(struct ctl *ctx, int argc, char **argv)
{
	const struct ctl_cmd *c;

	if (argc < 2) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if (argc > 2)
		return usage_error(ctx, "unexpected argument %s", argv[2]);
	c = ctl_lookup(argv[1]);
	if (c == NULL)
		return CTL_EXIT_USAGE;
	cmd_help(stdout, c);
	return CTL_EXIT_OK;
}

static void
global_option_error(int ch, char **argv)
{
	const char *opt = argv[optind - 1];

	if (ch == 't')
		fprintf(stderr, "sluicectl: -t needs seconds, not %s\n", optarg);
	else if (ch == ':')
		fprintf(stderr, "sluicectl: %s needs a value\n", opt);
	else
		fprintf(stderr, "sluicectl: unknown option %s\n", opt);
	fprintf(stderr, "usage: sluicectl [-s PATH] [-t SECONDS] [--json] "
	    "COMMAND [ARGS]  (sluicectl help)\n");
}

/* The global options.  Returns 1 when they asked for help or the
 * version (already printed), 0 to go on, -1 on a usage error. */
static int
ctl_options(struct ctl *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	int ch;

	opterr = 0;
	/* "+": stop at the command, whose options are its own. */
	while ((ch = getopt_long(argc, argv, "+:s:t:hV", lo, NULL)) != -1) {
		if (ch == 's')
			sock = optarg;
		else if (ch == 'j')
			ctx->json = 1;
		else if (ch == 'h' || ch == 'V') {
			if (ch == 'h')
				usage(stdout);
			else
				printf("sluicectl %s\n", SLUICE_VERSION);
			return 1;
		} else if (ch == 't' && ctlclient_parse_seconds(optarg,
		    &ctx->timeout_ms) == 0)
			ctx->timeout_set = 1;
		else {
			global_option_error(ch, argv);
			return -1;
		}
	}
	ctx->socket_origin = ctlclient_socket_origin(sock);
	if (ctlclient_socket_path(sock, ctx->socket, sizeof(ctx->socket)) ==
	    -1) {
		fprintf(stderr, "sluicectl: socket path too long\n");
		return -1;
	}
	return 0;
}

/* Exits through here so a full disk or closed pipe on stdout is noticed. */
static int
ctl_flush(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "sluicectl: writing stdout: %s\n",
		    strerror(errno));
		return rc != CTL_EXIT_OK ? rc : CTL_EXIT_FAILED;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl ctx = { .timeout_ms = CTL_TIMEOUT_DEFAULT_MS };
	int rc;

	ctlclient_init(&ctx.conn, 0);
	rc = ctl_options(&ctx, argc, argv);
	if (rc != 0)
		return rc == 1 ? ctl_flush(CTL_EXIT_OK) : CTL_EXIT_USAGE;
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	ctx.cmd = ctl_lookup(argv[optind]);
	if (ctx.cmd == NULL)
		return CTL_EXIT_USAGE;
	if (wants_help(argc - optind, argv + optind)) {
		cmd_help(stdout, ctx.cmd);
		return ctl_flush(CTL_EXIT_OK);
	}
	if ((ctx.cmd->flags & CMD_OWN_TIMEOUT) && !ctx.timeout_set)
		ctx.timeout_ms = 0;
	rc = ctx.cmd->run(&ctx, argc - optind, argv + optind);
	ctlclient_close(&ctx.conn);
	return ctl_flush(rc);
}
