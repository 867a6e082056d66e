/*
 * bench_submit.c - durable submissions per second, next to LMDB's raw
 * synced commit rate on the same disk, measured in the same run.
 *
 *	bench-submit SLUICED STATE_PARENT [SECONDS]
 *
 * Starts SLUICED (paused, so nothing is fetched) with its state in a fresh
 * directory under STATE_PARENT, then measures:
 *   raw      one-key LMDB write transactions, default (synced) commits
 *   single   one URL per request, 1 client, each waiting for its reply
 *   group16  one URL per request, 16 concurrent clients
 *   batch    1,000 URLs per request, 1 client
 *   memory   resident memory after 1,000,000 queued jobs
 * and prints one line per figure plus the ratios the issue asks for.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <lmdb.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* LMDB's own rate: one small put per write transaction, synced commit.
 * The environment stays open across rounds. */
static MDB_env *raw_env;
static long raw_seq;

static double
raw_commits(const char *dir, double seconds)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	double t0, t;
	long n = 0;

	if (raw_env == NULL) {
		mkdir(dir, 0700);
		if (mdb_env_create(&raw_env) ||
		    mdb_env_set_mapsize(raw_env, 1UL << 30) ||
		    mdb_env_open(raw_env, dir, 0, 0600))
			die("mdb_env_open");
	}
	t0 = now_s();
	do {
		char key[32];
		int len = snprintf(key, sizeof(key), "k%ld", raw_seq++);
		MDB_val k = { (size_t)len, key }, v = { 8, &n };
		if (mdb_txn_begin(raw_env, NULL, 0, &txn) ||
		    mdb_dbi_open(txn, NULL, 0, &dbi) ||
		    mdb_put(txn, dbi, &k, &v, 0) || mdb_txn_commit(txn))
			die("lmdb");
		n++;
		t = now_s();
	} while (t - t0 < seconds);
	return (double)n / (t - t0);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends one request line and reads one reply line; returns 0 if ok:true. */
static int
request(int fd, const char *req, size_t len, char *reply, size_t max)
{
	size_t got = 0;

	while (len > 0) {
		ssize_t n = write(fd, req, len);
		if (n <= 0)
			return -1;
		req += n;
		len -= (size_t)n;
	}
	while (got < max - 1) {
		ssize_t n = read(fd, reply + got, max - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (reply[got - 1] == '\n')
			break;
	}
	reply[got] = '\0';
	return strncmp(reply, "{\"ok\":true", 10) == 0 ? 0 : -1;
}

struct client {
	const char	*sock;
	int		 id;
	long		 per_request;	/* URLs per request */
	long		 requests;
	double		 seconds;	/* run until then, if requests == 0 */
	long		 done_urls;
	long		 seq;
	long		 hosts;		/* spread over so many hosts; 0: one */
};

static char *
build_submit(struct client *c, size_t *len)
{
	size_t cap = 64 + (size_t)c->per_request * 64, n;
	char *s = malloc(cap);

	n = (size_t)snprintf(s, cap, "{\"cmd\":\"submit\",\"urls\":[");
	for (long i = 0; i < c->per_request; i++, c->seq++)
		if (c->hosts > 0)
			n += (size_t)snprintf(s + n, cap - n,
			    "%s\"http://h%ld.bench%d.example/%ld\"",
			    i ? "," : "", c->seq % c->hosts, c->id, c->seq);
		else
			n += (size_t)snprintf(s + n, cap - n,
			    "%s\"http://bench%d.example/%ld\"", i ? "," : "",
			    c->id, c->seq);
	n += (size_t)snprintf(s + n, cap - n, "]}\n");
	*len = n;
	return s;
}

static void *
client_run(void *arg)
{
	struct client *c = arg;
	size_t rmax = 256 + (size_t)c->per_request * 128, len;
	char *reply = malloc(rmax);
	int fd = connect_to(c->sock);
	double t0 = now_s();

	if (fd == -1)
		die("connect");
	for (long r = 0; c->requests ? r < c->requests :
	    now_s() - t0 < c->seconds; r++) {
		char *req = build_submit(c, &len);
		if (request(fd, req, len, reply, rmax) == -1) {
			fprintf(stderr, "submit failed: %.200s\n", reply);
			exit(1);
		}
		free(req);
		c->done_urls += c->per_request;
	}
	close(fd);
	free(reply);
	return NULL;
}

/* URLs per second with nclients clients sending per_request URLs each. */
static double
submit_rate(const char *sock, int nclients, long per_request, long requests,
    double seconds, int id_base)
{
	pthread_t th[64];
	struct client cl[64];
	long total = 0;
	double t0 = now_s(), t;

	for (int i = 0; i < nclients; i++) {
		cl[i] = (struct client){ sock, id_base + i, per_request,
		    requests, seconds, 0, 0, 0 };
		pthread_create(&th[i], NULL, client_run, &cl[i]);
	}
	for (int i = 0; i < nclients; i++) {
		pthread_join(th[i], NULL);
		total += cl[i].done_urls;
	}
	t = now_s() - t0;
	return (double)total / t;
}

static pid_t
start_daemon(const char *sluiced, const char *state, const char *sock)
{
	char sd[1100], sk[1100];
	pid_t pid = fork();

	snprintf(sd, sizeof(sd), "daemon.state_dir=%s", state);
	snprintf(sk, sizeof(sk), "daemon.socket=%s", sock);
	if (pid == 0) {
		/* SLUICE_BENCH_SET=KEY=VALUE: one more setting (diagnosis). */
		const char *more = getenv("SLUICE_BENCH_SET");

		execl(sluiced, sluiced, "-f", "--set", more ? more : sd,
		    "--set", sd, "--set", sk,
		    "--set", "daemon.log_level=warning", "--set",
		    "store.map_size_max=64GiB", "--set", "queue.max_batch=10000",
		    "--set", "fetch.user_agent=bench (+http://localhost/)",
		    "--set", "daemon.max_request=64MiB",
		    (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int fd = connect_to(sock);
		if (fd != -1) {
			char reply[256];
			request(fd, "{\"cmd\":\"pause\"}\n", 16, reply,
			    sizeof(reply));
			close(fd);
			return pid;
		}
		usleep(50000);
	}
	fprintf(stderr, "sluiced did not come up\n");
	exit(1);
}

/* VmRSS, RssAnon and RssFile of pid, in KiB. */
static void
rss(pid_t pid, long *vm, long *anon, long *file)
{
	char path[64], line[256];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	*vm = *anon = *file = -1;
	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
		sscanf(line, "VmRSS: %ld", vm);
		sscanf(line, "RssAnon: %ld", anon);
		sscanf(line, "RssFile: %ld", file);
	}
	if (fp != NULL)
		fclose(fp);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define ROUNDS	5

/*
 * The disk's sync rate drifts (other processes share it), so each figure
 * is measured in ROUNDS short rounds alternating with the raw LMDB rate,
 * and the median of the per-round ratios is reported with the medians.
 */
static void
interleaved(const char *name, const char *sock, const char *rawdir,
    int clients, long per_request, double secs, int *id_base, double ratio_goal,
    const char *goal)
{
	double raw[ROUNDS], got[ROUNDS], ratio[ROUNDS];

	for (int i = 0; i < ROUNDS; i++) {
		raw[i] = raw_commits(rawdir, secs / ROUNDS);
		got[i] = submit_rate(sock, clients, per_request, 0,
		    secs / ROUNDS, *id_base);
		*id_base += clients;
		ratio[i] = got[i] / raw[i];
	}
	qsort(raw, ROUNDS, sizeof(double), cmp_double);
	qsort(got, ROUNDS, sizeof(double), cmp_double);
	qsort(ratio, ROUNDS, sizeof(double), cmp_double);
	printf("%-34s %9.0f URLs/s  raw %7.0f commits/s  ratio %6.2fx  "
	    "(goal %s: %s)\n", name, got[ROUNDS / 2], raw[ROUNDS / 2],
	    ratio[ROUNDS / 2], goal, ratio[ROUNDS / 2] >= ratio_goal ?
	    "met" : "NOT met");
}

static double
batch_rate(const char *sock, int clients, double secs, int *id_base)
{
	double r = submit_rate(sock, clients, 1000, 0, secs, *id_base);

	*id_base += clients;
	return r;
}

/*
 * Sustained intake: one client sends batches of 1,000 URLs spread over
 * 10,000 hosts into a fresh store until 1,000,000 are queued, and the rate
 * of each 100,000 is printed.  The goal: the last stays within 2x of the
 * first (the rate on an empty queue).
 */
static int
sustained(const char *sluiced, const char *state, const char *sock)
{
	struct client c = { sock, 0, 1000, 100, 0, 0, 0, 10000 };
	size_t rmax = 256 + 1000 * 128, len;
	char *reply = malloc(rmax);
	double first = 0, last = 0, worst = 0;
	pid_t pid = start_daemon(sluiced, state, sock);
	int fd = connect_to(sock);

	if (fd == -1 || reply == NULL)
		die("connect");
	for (int step = 0; step < 10; step++) {
		double t0 = now_s(), rate;

		double slowest = 0;

		for (long r = 0; r < c.requests; r++) {
			char *req = build_submit(&c, &len);
			double t1 = now_s();

			if (request(fd, req, len, reply, rmax) == -1) {
				fprintf(stderr, "submit failed: %.200s\n",
				    reply);
				exit(1);
			}
			free(req);
			if (now_s() - t1 > slowest)
				slowest = now_s() - t1;
		}
		rate = 100000.0 / (now_s() - t0);
		printf("queued %7d..%7d over 10,000 hosts: %9.0f URLs/s, "
		    "slowest request %4.0f ms\n", step * 100000,
		    (step + 1) * 100000, rate, slowest * 1000);
		fflush(stdout);
		if (step == 0)
			first = rate;
		last = rate;
		if (worst == 0 || rate < worst)
			worst = rate;
	}
	printf("%-34s %9.2fx  (first %.0f, last %.0f, slowest %.0f URLs/s; "
	    "goal <= 2x: %s)\n", "sustained: first / slowest 100k", first /
	    worst, first, last, worst, first / worst <= 2 ? "met" : "NOT met");
	close(fd);
	free(reply);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 0;
}

int
main(int argc, char **argv)
{
	char state[1024], sock[1024], rawdir[1024], cmd[2100];
	double secs = argc > 3 ? atof(argv[3]) : 5, b1, b4;
	long vm, anon, file;
	int id = 0;
	pid_t pid;

	if (argc > 1 && strcmp(argv[1], "--sustained") == 0) {
		if (argc < 4) {
			fprintf(stderr, "usage: bench-submit --sustained "
			    "SLUICED STATE_PARENT\n");
			return 2;
		}
		snprintf(state, sizeof(state), "%s/bench-state", argv[3]);
		snprintf(sock, sizeof(sock), "%s/bench.sock", argv[3]);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
		if (system(cmd) != 0 || sustained(argv[2], state, sock) != 0)
			return 1;
		return system(cmd) == 0 ? 0 : 1;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: bench-submit SLUICED STATE_PARENT "
		    "[SECONDS]\n       bench-submit --sustained SLUICED "
		    "STATE_PARENT\n");
		return 2;
	}
	snprintf(state, sizeof(state), "%s/bench-state", argv[2]);
	snprintf(sock, sizeof(sock), "%s/bench.sock", argv[2]);
	snprintf(rawdir, sizeof(rawdir), "%s/bench-raw", argv[2]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", state, rawdir);
	if (system(cmd) != 0)
		return 1;
	pid = start_daemon(argv[1], state, sock);
	interleaved("single URL/request, 1 client", sock, rawdir, 1, 1, secs,
	    &id, 0.5, ">= 0.5x raw");
	interleaved("single URL/request, 16 clients", sock, rawdir, 16, 1,
	    secs, &id, 4.0, ">= 4x raw");
	b1 = batch_rate(sock, 1, secs, &id);
	b4 = batch_rate(sock, 4, secs, &id);
	printf("%-34s %9.0f URLs/s  (goal >= 100000: %s)\n",
	    "batches of 1000, 1 client", b1, b1 >= 100000 ? "met" : "NOT met");
	printf("%-34s %9.0f URLs/s  (goal >= 100000: %s)\n",
	    "batches of 1000, 4 clients", b4, b4 >= 100000 ? "met" : "NOT met");
	/* Fill to 1,000,000 queued jobs, then read resident memory. */
	submit_rate(sock, 4, 1000, 250, 0, 1000);
	/* Housekeeping runs each second and trims mapped pages. */
	for (int i = 0; i < 5; i++) {
		sleep(1);
		rss(pid, &vm, &anon, &file);
		fprintf(stderr, "  after %ds: VmRSS %ld KiB (mapped %ld)\n", i + 1,
		    vm, file);
	}
	printf("%-34s %9ld KiB  (anon %ld, LMDB pages mapped %ld; goal <= "
	    "65536: %s)\n", "resident, >= 1,000,000 queued", vm, anon, file,
	    vm <= 65536 ? "met" : "NOT met");
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (raw_env != NULL)
		mdb_env_close(raw_env);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", state, rawdir);
	return system(cmd) == 0 ? 0 : 1;
}
