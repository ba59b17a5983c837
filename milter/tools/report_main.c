/*
 * report_main.c - authmilter-report: DMARC aggregate reports from the
 * history the daemon keeps (history = ...), and its pruning.
 *
 *   authmilter-report [-c FILE] send [--begin T --end T] [--dry-run DIR]
 *   authmilter-report [-c FILE] prune [--before T]
 *   authmilter-report [-c FILE] import [--max-size N] [FILE|DIR|-]...
 *   authmilter-report [-c FILE] summary [--domain D] [--since T] [--json] ...
 *   authmilter-report [-c FILE] html --domain D -o FILE ...
 *
 * send builds one report per policy domain of the period (default: the
 * last whole report_interval, UTC: the previous day), and sends it to each
 * mailto: rua destination through report_sendmail (a sendmail(1) command,
 * or smtp:HOST[:PORT], a relay), unless the compressed
 * message is over the destination's size limit (!10m) or the destination
 * is in another domain that does not authorise it (RFC 7489 7.1: a TXT
 * record at DOMAIN._report._dmarc.DEST). A report sent is recorded in the
 * store and never sent again. --dry-run DIR writes each message to
 * DIR/NAME.eml instead and records nothing. prune removes the history
 * older than history_retention (or T). Times T: seconds since the epoch or
 * YYYY-MM-DD (UTC midnight). import, summary and html read the aggregate
 * reports customers receive (rua_cmd.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/config.h"
#include "base/buf.h"
#include "base/dns.h"
#include "policy/runtime.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "store/history.h"
#include "store/report.h"
#include "tools/report_smtp.h"
#include "tools/rua_cmd.h"

#define REPORT_DEFAULT_CONF SYSCONFDIR "/authmilter/authmilter.conf"
#define REPORT_RR_TXT 16
#define REPORT_ARGV_MAX 32

/* What one run of send works with. */
struct report_run {
	const struct config *c;		/* the conf (borrowed) */
	struct history_store *store;	/* borrowed */
	struct dns *dns;		/* for the authorisation records (owned by main) */
	struct report_meta meta;
	const char *dry_run;		/* directory, or NULL: send */
	int failed;			/* something could not be sent */
};

/* report_usage - print usage and exit */
static void
report_usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: authmilter-report [-c FILE] "
	    "send [--begin T --end T] [--dry-run DIR]\n"
	    "       authmilter-report [-c FILE] prune [--before T]\n"
	    "       authmilter-report [-c FILE] import [--max-size N] "
	    "[FILE|DIR|-]...\n"
	    "       authmilter-report [-c FILE] summary [--domain D] [--since T] "
	    "[--json]\n"
	    "                [--resolve] [--min-pass P] [--min-days N] "
	    "[--min-messages N]\n"
	    "       authmilter-report [-c FILE] html --domain D -o FILE "
	    "[--since T] ...\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  T        seconds since the epoch, or YYYY-MM-DD (UTC)\n",
	    REPORT_DEFAULT_CONF);
	exit(status);
}

/* report_time - parse T; 0, or -1 */
static int
report_time(const char *s, time_t *t)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end != NULL && *end == '\0') {
		*t = timegm(&tm);
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return -1;
	*t = (time_t)v;
	return 0;
}

/* report_domain_of - the domain of an address, or the text itself */
static const char *
report_domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : addr;
}

/*
 * report_authorised - does dest's domain take reports for domain (RFC 7489
 * 7.1)? 1 yes, 0 no, -1 DNS trouble (try again later)
 */
static int
report_authorised(struct report_run *run, const char *domain,
    const char *dest_domain)
{
	struct dns_result res;
	enum dns_status st;
	struct buf name = BUF_INIT, txt = BUF_INIT;
	size_t i;
	int ok = 0;

	buf_printf(&name, "%s._report._dmarc.%s", domain, dest_domain);
	st = dns_resolve(run->dns, buf_cstr(&name), REPORT_RR_TXT, 0, &res);
	if (st == DNS_OK) {
		for (i = 0; i < res.n && !ok; i++)
			if (dns_txt(&res, i, &txt) == 0 && txt.len >= 8
			    && strncasecmp(txt.data, "v=DMARC1", 8) == 0)
				ok = 1;
	} else if (st != DNS_NXDOMAIN && st != DNS_NODATA)
		ok = -1;
	dns_result_free(&res);
	buf_free(&name);
	buf_free(&txt);
	return ok;
}

/* report_split - the command's words (split at blanks) into argv; how many */
static size_t
report_split(char *cmd, char **argv, size_t max)
{
	char *save = NULL, *w;
	size_t n = 0;

	for (w = strtok_r(cmd, " \t", &save); w != NULL && n + 1 < max;
	    w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return n;
}

/* report_sendmail - pipe msg into report_sendmail; 0, or -1 with err */
static int
report_sendmail(const char *command, const struct buf *msg, char *err,
    size_t errlen)
{
	char *cmd = xstrdup(command), *argv[REPORT_ARGV_MAX];
	int fds[2] = { -1, -1 }, status, rc = -1;
	size_t off = 0;
	ssize_t w;
	pid_t pid;

	if (report_split(cmd, argv, REPORT_ARGV_MAX) == 0) {
		(void)log_fail(err, errlen, "report_sendmail is empty");
		goto done;
	}
	if (pipe(fds) != 0) {
		(void)log_fail(err, errlen, "pipe: %s", strerror(errno));
		goto done;
	}
	if ((pid = fork()) < 0) {
		(void)log_fail(err, errlen, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		(void)dup2(fds[0], 0);
		(void)close(fds[0]);
		(void)close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	(void)close(fds[0]);
	fds[0] = -1;
	while (off < msg->len) {
		w = write(fds[1], msg->data + off, msg->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	(void)close(fds[1]);
	fds[1] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (off < msg->len)
		(void)log_fail(err, errlen, "%s: stopped reading the message",
		    argv[0]);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		(void)log_fail(err, errlen, "%s: exit status %d", argv[0],
		    WIFEXITED(status) ? WEXITSTATUS(status) : 128
		    + WTERMSIG(status));
	else
		rc = 0;
done:
	if (fds[0] >= 0)
		(void)close(fds[0]);
	if (fds[1] >= 0)
		(void)close(fds[1]);
	free(cmd);
	return rc;
}

/* report_write - the message into DIR/NAME.eml (--dry-run); 0 or -1 with err */
static int
report_write(const char *dir, const char *name, const struct buf *msg,
    char *err, size_t errlen)
{
	struct buf path = BUF_INIT;
	FILE *fp;
	int rc = -1;

	buf_printf(&path, "%s/%s.eml", dir, name);
	if ((fp = fopen(buf_cstr(&path), "w")) == NULL) {
		(void)log_fail(err, errlen, "%s: %s", buf_cstr(&path),
		    strerror(errno));
		goto done;
	}
	if (fwrite(msg->data, 1, msg->len, fp) != msg->len)
		(void)log_fail(err, errlen, "%s: write failed", buf_cstr(&path));
	else
		rc = 0;
	if (fclose(fp) != 0 && rc == 0)
		rc = log_fail(err, errlen, "%s: write failed", buf_cstr(&path));
	else
		printf("wrote %s\n", buf_cstr(&path));
done:
	buf_free(&path);
	return rc;
}

/*
 * report_deliver - the report to one destination, if it may have it;
 * 1 sent (or written), 0 skipped for good (logged), -1 to try again
 */
static int
report_deliver(struct report_run *run, const struct report *r,
    const struct report_dest *d, const struct buf *gz, size_t n)
{
	struct buf msg = BUF_INIT, name = BUF_INIT;
	char err[512];
	int ok, rc = -1;

	if (report_dest_external(d, r->domain)
	    && (ok = report_authorised(run, r->domain, d->domain)) != 1) {
		if (ok == 0)
			printf("%s: not sent to %s: %s does not take reports "
			    "for it (no %s._report._dmarc.%s record)\n",
			    r->domain, d->address, d->domain, r->domain,
			    d->domain);
		else
			fprintf(stderr, "authmilter-report: %s: %s not "
			    "verified (DNS), will try again\n", r->domain,
			    d->address);
		return ok == 0 ? 0 : -1;
	}
	report_mime(r, &run->meta, d->address, gz, time(NULL), &msg);
	if (d->limit > 0 && msg.len > d->limit) {
		printf("%s: not sent to %s: %zu bytes, over its limit of %llu\n",
		    r->domain, d->address, msg.len, d->limit);
		rc = 0;
		goto done;
	}
	if (run->dry_run != NULL) {
		report_filename(r, &run->meta, &name);
		if (name.len > 7)	/* the .xml.gz of the attachment */
			name.data[name.len -= 7] = '\0';
		buf_printf(&name, "!%zu", n);
		rc = report_write(run->dry_run, buf_cstr(&name), &msg, err,
		    sizeof(err)) == 0 ? 1 : -1;
	} else if (strncmp(run->c->report_sendmail, "smtp:", 5) == 0
	    ? report_smtp_send(run->c->report_sendmail + 5, run->meta.receiver,
	    run->meta.sender, d->address, &msg, err, sizeof(err)) == 0
	    : report_sendmail(run->c->report_sendmail, &msg, err,
	    sizeof(err)) == 0) {
		printf("%s: report of %lu messages sent to %s\n", r->domain,
		    r->messages, d->address);
		rc = 1;
	}
	if (rc < 0)
		fprintf(stderr, "authmilter-report: %s: %s: %s\n", r->domain,
		    d->address, err);
done:
	buf_free(&msg);
	buf_free(&name);
	return rc;
}

/* report_one - build, send and record one domain's report */
static void
report_one(struct report_run *run, const struct report *r)
{
	struct buf xml = BUF_INIT, gz = BUF_INIT, id = BUF_INIT, sent = BUF_INIT;
	char *uris = xstrdup(r->policy->rua), *save = NULL, *u;
	struct report_dest d;
	char err[512];
	int rc, again = 0, delivered = 0;
	size_t n = 0;

	report_id(r, &run->meta, &id);
	if (run->dry_run == NULL && (rc = history_store_sent(run->store,
	    buf_cstr(&id), err, sizeof(err))) != 0) {
		if (rc < 0) {
			fprintf(stderr, "authmilter-report: %s\n", err);
			run->failed = 1;
		} else
			printf("%s: report %s was sent already\n", r->domain,
			    buf_cstr(&id));
		goto done;
	}
	report_xml(r, &run->meta, &xml);
	if (report_gzip(&xml, &gz, err, sizeof(err)) != 0) {
		fprintf(stderr, "authmilter-report: %s: %s\n", r->domain, err);
		run->failed = 1;
		goto done;
	}
	for (u = strtok_r(uris, " ", &save); u != NULL;
	    u = strtok_r(NULL, " ", &save)) {
		if (report_dest_parse(u, &d) != 0) {
			printf("%s: %s: not a mailto: URI we send to\n",
			    r->domain, u);
			continue;
		}
		rc = report_deliver(run, r, &d, &gz, n++);
		if (rc > 0)
			buf_printf(&sent, "%s%s", sent.len ? " " : "", u);
		delivered += rc > 0;
		again |= rc < 0;
		report_dest_free(&d);
	}
	if (again)
		run->failed = 1;
	/* recorded unless a destination is to be tried again */
	if (run->dry_run == NULL && !again && history_store_sent_add(run->store,
	    buf_cstr(&id), r->domain, run->meta.begin, run->meta.end,
	    buf_cstr(&sent), delivered ? "sent" : "skipped", err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		run->failed = 1;
	}
done:
	buf_free(&xml);
	buf_free(&gz);
	buf_free(&id);
	buf_free(&sent);
	free(uris);
}

/* report_send - the send command */
static int
report_send(struct report_run *run, time_t begin, time_t end)
{
	struct report_set set;
	char err[512];
	size_t i;

	if (report_collect(run->store, begin, end, &set, err, sizeof(err)) != 0) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		return 1;
	}
	printf("period %lld to %lld: %zu domains to report\n", (long long)begin,
	    (long long)end, set.n);
	for (i = 0; i < set.n; i++)
		report_one(run, &set.v[i]);
	report_set_free(&set);
	return run->failed ? 1 : 0;
}

/* report_meta_init - who we are in the reports */
static int
report_meta_init(const struct config *c, struct report_meta *m, char *host,
    size_t hostlen)
{
	if (c->report_sender[0] == '\0' || strchr(c->report_sender, '@')
	    == NULL) {
		fprintf(stderr, "authmilter-report: report_sender (an address) "
		    "is not set in the conf\n");
		return -1;
	}
	if (gethostname(host, hostlen) != 0)
		(void)snprintf(host, hostlen, "localhost");
	host[hostlen - 1] = '\0';
	m->sender = c->report_sender;
	m->email = c->report_contact[0] ? c->report_contact : c->report_sender;
	m->org_name = c->report_org_name[0] ? c->report_org_name
	    : c->authserv_id[0] ? c->authserv_id : host;
	m->receiver = report_domain_of(c->report_sender);
	return 0;
}

/* report_args - the command's options; 0, or -1 (usage) */
static int
report_args(int argc, char **argv, const char *cmd, time_t *begin,
    time_t *end, const char **dry_run)
{
	int i, have_begin = 0, have_end = 0;

	for (i = 0; i < argc; i++) {
		if (i + 1 < argc && (strcmp(argv[i], "--begin") == 0
		    || strcmp(argv[i], "--before") == 0)) {
			if (report_time(argv[++i], begin) != 0)
				return -1;
			have_begin = 1;
		} else if (i + 1 < argc && strcmp(argv[i], "--end") == 0
		    && strcmp(cmd, "send") == 0) {
			if (report_time(argv[++i], end) != 0)
				return -1;
			have_end = 1;
		} else if (i + 1 < argc && strcmp(argv[i], "--dry-run") == 0
		    && strcmp(cmd, "send") == 0)
			*dry_run = argv[++i];
		else
			return -1;
	}
	if (strcmp(cmd, "send") == 0 && have_begin != have_end)
		return -1;
	return have_begin ? 1 : 0;
}

/* report_period - the default period: the last whole interval (UTC) */
static void
report_period(const struct config *c, time_t *begin, time_t *end)
{
	time_t now = time(NULL);

	*end = now - now % c->report_interval;
	*begin = *end - c->report_interval;
}

int
main(int argc, char **argv)
{
	const char *path = REPORT_DEFAULT_CONF, *dry_run = NULL, *cmd;
	struct config_problems probs = { NULL, 0, 0 };
	struct report_run run;
	struct history_store *s = NULL;
	struct config *c = NULL;
	struct stat st;
	char err[1024], host[256];
	time_t begin = 0, end = 0;
	long pruned;
	int ch, given = 0, rc = 2, rua;
	size_t j;

	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'h': report_usage(0); break;
		default: report_usage(2);
		}
	}
	if (optind >= argc)
		report_usage(2);
	cmd = argv[optind];
	rua = strcmp(cmd, "import") == 0 || strcmp(cmd, "summary") == 0
	    || strcmp(cmd, "html") == 0;
	if (strcmp(cmd, "send") != 0 && strcmp(cmd, "prune") != 0 && !rua)
		report_usage(2);
	if (!rua && ((given = report_args(argc - optind - 1, argv + optind + 1,
	    cmd, &begin, &end, &dry_run)) < 0 || (given && strcmp(cmd, "send")
	    == 0 && end <= begin)))
		report_usage(2);
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_WARNING);
	c = config_load_from(path, NULL, NULL, CONFIG_SKIP_KEYS
	    | CONFIG_SKIP_INCLUDES, &probs, err, sizeof(err));
	for (j = 0; j < probs.n; j++)
		fprintf(stderr, "authmilter-report: %s\n", probs.v[j].text);
	config_problems_free(&probs);
	if (c == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		return 2;
	}
	memset(&run, 0, sizeof(run));
	if (c->history[0] == '\0') {
		fprintf(stderr, "authmilter-report: no history in %s (history = "
		    "sqlite:PATH)\n", path);
		goto done;
	}
	if (dry_run != NULL && (stat(dry_run, &st) != 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "authmilter-report: --dry-run %s: not a "
		    "directory\n", dry_run);
		goto done;
	}
	if ((s = history_store_open(c->history, err, sizeof(err))) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		goto done;
	}
	if (strcmp(cmd, "import") == 0) {
		rc = rua_cmd_import(s, argc - optind - 1, argv + optind + 1);
		goto done;
	}
	if (rua) {
		rc = rua_cmd_summary(s, c, argc - optind - 1, argv + optind + 1,
		    strcmp(cmd, "html") == 0);
		if (rc == 2)
			report_usage(2);
		goto done;
	}
	if (strcmp(cmd, "prune") == 0) {
		if (!given)
			begin = time(NULL) - c->history_retention;
		if ((pruned = history_store_prune(s, begin, err, sizeof(err))) < 0)
			fprintf(stderr, "authmilter-report: %s\n", err);
		else {
			printf("pruned %ld messages older than %lld\n", pruned,
			    (long long)begin);
			rc = 0;
		}
		goto done;
	}
	if (report_meta_init(c, &run.meta, host, sizeof(host)) != 0)
		goto done;
	if (!given)
		report_period(c, &begin, &end);
	run.meta.begin = begin;
	run.meta.end = end;
	run.c = c;
	run.store = s;
	run.dry_run = dry_run;
	if ((run.dns = runtime_dns_tool(c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "authmilter-report: %s\n", err);
		goto done;
	}
	rc = report_send(&run, begin, end);
done:
	dns_free(run.dns);
	history_store_close(s);
	config_free(c);
	return rc;
}
