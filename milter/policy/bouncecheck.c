/*
 * bouncecheck.c - the bounce domains' DNS check: one domain's lookups
 * (MX or CNAME at our hosts, SPF passing for us), the carry-over of
 * verdicts across a reload, the states file and the checker thread.
 *
 * The checker thread owns its struct bouncecheck_thread but for the
 * fields its mutex guards (stop, wake), its reference to the snapshot it
 * checks and its table of domains (schedule, last verdicts). It writes the
 * domain blocks' atomic bounce_health and nothing else shared.
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/spf.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/dns.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policy/bouncecheck.h"
#include "policy/runtime.h"

#define BOUNCECHECK_MAGIC	"authmilter-bouncestates 1"
#define BOUNCECHECK_RETRY	60	/* seconds to the next try after no answer */
#define BOUNCECHECK_STOP_MS	300	/* a stop waits this long for a lookup */

static const char *const bouncecheck_health_names[BOUNCE_NHEALTH] = {
	"unchecked", "ok", "broken", "unknown" };
static const char *const bouncecheck_why_names[BOUNCE_NWHY] = {
	"", "no-mx", "mx-elsewhere", "spf", "spf-include", "dns" };

/* bouncecheck_health_name - the state's name */
const char *
bouncecheck_health_name(enum bounce_health h)
{
	return (unsigned)h < BOUNCE_NHEALTH ? bouncecheck_health_names[h] : "?";
}

/* bouncecheck_why_name - the reason's name */
const char *
bouncecheck_why_name(enum bounce_why w)
{
	return (unsigned)w < BOUNCE_NWHY ? bouncecheck_why_names[w] : "?";
}

/* bouncecheck_get - d's state */
enum bounce_health
bouncecheck_get(const struct config_domain *d, enum bounce_why *why)
{
	if (why != NULL)
		*why = (enum bounce_why)__atomic_load_n(&d->bounce_why,
		    __ATOMIC_RELAXED);
	return (enum bounce_health)__atomic_load_n(&d->bounce_health,
	    __ATOMIC_RELAXED);
}

/* bouncecheck_set - store d's state; the only writes of a finished snapshot's block */
void
bouncecheck_set(const struct config_domain *d, enum bounce_health h,
    enum bounce_why why)
{
	struct config_domain *w = (struct config_domain *)d;

	__atomic_store_n(&w->bounce_why, (int)why, __ATOMIC_RELAXED);
	__atomic_store_n(&w->bounce_health, (int)h, __ATOMIC_RELAXED);
}

/* bouncecheck_rdata_name - the uncompressed domain name at off of an rdata, without the final dot; 0 or -1 */
static int
bouncecheck_rdata_name(const unsigned char *rd, size_t len, size_t off,
    char *out, size_t outlen)
{
	size_t o = 0, n;

	while (off < len && rd[off] != 0) {
		n = rd[off++];
		if ((n & 0xc0) != 0 || n > len - off || o + n + 2 > outlen)
			return -1;
		memcpy(out + o, rd + off, n);
		o += n;
		out[o++] = '.';
		off += n;
	}
	if (off >= len || outlen == 0)
		return -1;
	if (o > 0)
		o--;		/* the last label's dot */
	out[o] = '\0';
	return 0;
}

/* bouncecheck_same_name - equal domain names, ignoring case and a final dot */
static int
bouncecheck_same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* bouncecheck_ours - is host one of bounce_mx_hosts? */
static int
bouncecheck_ours(const struct config *c, const char *host)
{
	size_t i;

	for (i = 0; i < c->bounce_mx_hosts.n; i++)
		if (bouncecheck_same_name(c->bounce_mx_hosts.v[i], host))
			return 1;
	return 0;
}

/* bouncecheck_mx - the MX (or CNAME target) of bdom among our hosts? */
static enum bounce_health
bouncecheck_mx(const struct config *c, struct dns *dns, const char *bdom,
    enum bounce_why *why, struct buf *detail)
{
	struct dns_result r;
	char target[1025], cname[1025];
	enum bounce_health h = BOUNCE_HEALTH_BROKEN;
	struct buf seen = BUF_INIT;
	size_t i;

	cname[0] = '\0';
	(void)dns_resolve(dns, bdom, ns_t_cname, 0, &r);
	if (r.status == DNS_OK && r.n > 0 && bouncecheck_rdata_name(r.data[0],
	    r.len[0], 0, cname, sizeof(cname)) == 0 && bouncecheck_ours(c,
	    cname)) {
		dns_result_free(&r);
		buf_printf(detail, "CNAME %s", cname);
		return BOUNCE_HEALTH_OK;
	}
	dns_result_free(&r);
	/* the resolver follows a CNAME: the target's MX */
	(void)dns_resolve(dns, bdom, ns_t_mx, 0, &r);
	for (i = 0; r.status == DNS_OK && i < r.n; i++) {
		if (r.len[i] < 3 || bouncecheck_rdata_name(r.data[i], r.len[i],
		    2, target, sizeof(target)) != 0)
			continue;
		if (bouncecheck_ours(c, target))
			h = BOUNCE_HEALTH_OK;
		buf_printf(&seen, "%s%s", seen.len ? ", " : "", target);
	}
	if (r.status == DNS_OK && h == BOUNCE_HEALTH_OK) {
		buf_printf(detail, "MX %s", buf_cstr(&seen));
	} else if (r.status == DNS_OK) {
		*why = BOUNCE_WHY_MX_ELSEWHERE;
		buf_printf(detail, "MX %s%s%s: none of bounce_mx_hosts",
		    buf_cstr(&seen), cname[0] ? " via CNAME " : "", cname);
	} else if (r.status == DNS_NXDOMAIN || r.status == DNS_NODATA) {
		*why = cname[0] && r.status == DNS_NODATA
		    ? BOUNCE_WHY_MX_ELSEWHERE : BOUNCE_WHY_NO_MX;
		buf_printf(detail, "no MX (%s%s%s)", dns_status_name(r.status),
		    cname[0] ? ", CNAME " : "", cname);
	} else {
		h = BOUNCE_HEALTH_UNKNOWN;
		*why = BOUNCE_WHY_DNS;
		buf_printf(detail, "MX lookup: %s", dns_status_name(r.status));
	}
	dns_result_free(&r);
	buf_free(&seen);
	return h;
}

/* bouncecheck_spf_ips - bdom's SPF gives pass for each of bounce_check_ips? */
static enum bounce_health
bouncecheck_spf_ips(const struct config *c, struct spf *spf,
    const char *bdom, enum bounce_why *why, struct buf *detail)
{
	struct spf_result *res = xcalloc(1, sizeof(*res));
	struct buf sender = BUF_INIT;
	enum bounce_health h = BOUNCE_HEALTH_OK;
	size_t i;

	buf_printf(&sender, "postmaster@%s", bdom);
	for (i = 0; i < c->bounce_check_ips.n && h == BOUNCE_HEALTH_OK; i++) {
		spf_check(spf, NULL, c->bounce_check_ips.v[i],
		    buf_cstr(&sender), "", res);
		if (res->mailfrom.res == SPF_RES_PASS)
			continue;
		h = res->mailfrom.res == SPF_RES_TEMPERROR
		    ? BOUNCE_HEALTH_UNKNOWN : BOUNCE_HEALTH_BROKEN;
		*why = h == BOUNCE_HEALTH_UNKNOWN ? BOUNCE_WHY_DNS
		    : BOUNCE_WHY_SPF;
		buf_printf(detail, "SPF %s for %s (%s)",
		    spf_res_name(res->mailfrom.res), c->bounce_check_ips.v[i],
		    res->mailfrom.comment);
	}
	if (h == BOUNCE_HEALTH_OK)
		buf_printf(detail, "SPF pass for %zu addresses",
		    c->bounce_check_ips.n);
	buf_free(&sender);
	free(res);
	return h;
}

/* bouncecheck_has_include - does an SPF record name inc in include: or redirect=? */
static int
bouncecheck_has_include(const char *rec, const char *inc)
{
	char *copy = xstrdup(rec), *save = NULL, *t;
	int found = 0;

	for (t = strtok_r(copy, " \t", &save); t != NULL && !found;
	    t = strtok_r(NULL, " \t", &save)) {
		if (*t == '+')
			t++;
		if (strncasecmp(t, "include:", 8) == 0)
			found = bouncecheck_same_name(t + 8, inc);
		else if (strncasecmp(t, "redirect=", 9) == 0)
			found = bouncecheck_same_name(t + 9, inc);
	}
	free(copy);
	return found;
}

/* bouncecheck_spf_include - bdom's SPF record includes platform_spf_include? */
static enum bounce_health
bouncecheck_spf_include(const struct config *c, struct dns *dns,
    const char *bdom, enum bounce_why *why, struct buf *detail)
{
	struct dns_result r;
	struct buf txt = BUF_INIT;
	enum bounce_health h = BOUNCE_HEALTH_BROKEN;
	int records = 0;
	size_t i;

	(void)dns_resolve(dns, bdom, ns_t_txt, 0, &r);
	for (i = 0; r.status == DNS_OK && i < r.n; i++) {
		if (dns_txt(&r, i, &txt) != 0 || strncasecmp(buf_cstr(&txt),
		    "v=spf1", 6) != 0 || (txt.len > 6 && txt.data[6] != ' '))
			continue;
		records++;
		if (bouncecheck_has_include(buf_cstr(&txt),
		    c->platform_spf_include))
			h = BOUNCE_HEALTH_OK;
	}
	if (r.status == DNS_TEMPFAIL || r.status == DNS_BOGUS
	    || r.status == DNS_ERROR) {
		h = BOUNCE_HEALTH_UNKNOWN;
		*why = BOUNCE_WHY_DNS;
		buf_printf(detail, "SPF lookup: %s", dns_status_name(r.status));
	} else if (h == BOUNCE_HEALTH_OK && records == 1) {
		buf_printf(detail, "SPF includes %s", c->platform_spf_include);
	} else {
		h = BOUNCE_HEALTH_BROKEN;
		*why = BOUNCE_WHY_SPF_INCLUDE;
		if (records == 0)
			buf_puts(detail, "no SPF record");
		else if (records > 1)
			buf_printf(detail, "%d SPF records (permerror)",
			    records);
		else
			buf_printf(detail, "SPF record does not include %s",
			    c->platform_spf_include);
	}
	dns_result_free(&r);
	buf_free(&txt);
	return h;
}

/* bouncecheck_stopped - has the thread been asked to stop (NULL: never)? */
static int
bouncecheck_stopped(const int *stop)
{
	return stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED);
}

/* bouncecheck_domain_until - bouncecheck_domain, giving up (unknown) between lookups once *stop is set */
static enum bounce_health
bouncecheck_domain_until(const struct config *c, const char *bdom,
    const int *stop, enum bounce_why *why, char *detail, size_t detaillen)
{
	struct runtime *rt = runtime_of(c);
	enum bounce_health mx = BOUNCE_HEALTH_OK, spf = BOUNCE_HEALTH_OK;
	enum bounce_why mwhy = BOUNCE_WHY_NONE, swhy = BOUNCE_WHY_NONE;
	struct buf d = BUF_INIT;
	int checked = 0;

	*why = BOUNCE_WHY_NONE;
	if (rt == NULL || rt->dns == NULL) {
		(void)snprintf(detail, detaillen, "no resolver");
		*why = BOUNCE_WHY_DNS;
		return BOUNCE_HEALTH_UNKNOWN;
	}
	if (c->bounce_mx_hosts.n > 0) {
		mx = bouncecheck_mx(c, rt->dns, bdom, &mwhy, &d);
		checked = 1;
	}
	if (bouncecheck_stopped(stop)) {
		buf_free(&d);
		(void)snprintf(detail, detaillen, "stopping");
		*why = BOUNCE_WHY_DNS;
		return BOUNCE_HEALTH_UNKNOWN;
	}
	if (c->bounce_check_ips.n > 0 || c->platform_spf_include[0] != '\0') {
		if (d.len > 0)
			buf_puts(&d, "; ");
		spf = c->bounce_check_ips.n > 0
		    ? bouncecheck_spf_ips(c, rt->spf, bdom, &swhy, &d)
		    : bouncecheck_spf_include(c, rt->dns, bdom, &swhy, &d);
		checked = 1;
	}
	(void)snprintf(detail, detaillen, "%s", buf_cstr(&d));
	buf_free(&d);
	if (!checked)
		return BOUNCE_HEALTH_UNCHECKED;
	/* known broken wins over no answer: one fault is enough */
	if (mx == BOUNCE_HEALTH_BROKEN || spf == BOUNCE_HEALTH_BROKEN) {
		*why = mx == BOUNCE_HEALTH_BROKEN ? mwhy : swhy;
		return BOUNCE_HEALTH_BROKEN;
	}
	if (mx == BOUNCE_HEALTH_UNKNOWN || spf == BOUNCE_HEALTH_UNKNOWN) {
		*why = BOUNCE_WHY_DNS;
		return BOUNCE_HEALTH_UNKNOWN;
	}
	return BOUNCE_HEALTH_OK;
}

/* bouncecheck_domain - look one bounce domain up */
enum bounce_health
bouncecheck_domain(const struct config *c, const char *bdom,
    enum bounce_why *why, char *detail, size_t detaillen)
{
	return bouncecheck_domain_until(c, bdom, NULL, why, detail, detaillen);
}

/* bouncecheck_carry_over - a reload keeps the states of the same bounce domains */
size_t
bouncecheck_carry_over(const struct config *old_cfg,
    const struct config *new_cfg)
{
	const struct config_domain *od, *nd;
	enum bounce_health h;
	enum bounce_why why;
	size_t i, n = 0;

	if (old_cfg == NULL)
		return 0;
	for (i = 0; i < new_cfg->nbounce; i++) {
		nd = new_cfg->by_bounce[i];
		od = config_find_bounce_domain(old_cfg, nd->bounce_domain);
		if (od == NULL || (h = bouncecheck_get(od, &why))
		    == BOUNCE_HEALTH_UNCHECKED)
			continue;
		bouncecheck_set(nd, h, why);
		n++;
	}
	return n;
}

/* ---- the checker thread ---- */

/* One bounce domain as the thread knows it. */
struct bouncecheck_entry {
	char *bdom;			/* the bounce domain, lowercased (owned) */
	time_t next;			/* monotonic second of its next lookup */
	int checked;			/* looked up once at least */
	enum bounce_health health;	/* the last verdict (or the file's) */
	enum bounce_why why;
	time_t at;			/* when that verdict was found (epoch) */
};

struct bouncecheck_thread {
	pthread_t tid;
	pthread_mutex_t lock;		/* guards stop and wake */
	pthread_cond_t cond;		/* on the monotonic clock */
	int stop;			/* bouncecheck_stop asked (atomic: also
					 * read between one domain's lookups) */
	int wake;			/* a new snapshot is installed */
	int done;			/* the thread has ended its loop (lock) */
	int abandoned;			/* bouncecheck_stop gave up waiting: the
					 * thread frees everything itself (lock) */
	struct config *cfg;		/* the snapshot checked (a reference) */
	struct bouncecheck_entry *v;	/* its bounce domains (owned) */
	size_t n;
	int dirty;			/* verdicts changed since the last save */
	int loaded;			/* the states file was read */
};

/* bouncecheck_mono - monotonic seconds */
static time_t
bouncecheck_mono(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* bouncecheck_find - the entry of bdom, or NULL */
static struct bouncecheck_entry *
bouncecheck_find(struct bouncecheck_thread *bt, const char *bdom)
{
	size_t i;

	for (i = 0; i < bt->n; i++)
		if (strcasecmp(bt->v[i].bdom, bdom) == 0)
			return &bt->v[i];
	return NULL;
}

/* bouncecheck_path - state_dir/NAME into out; 0 or -1 (no state_dir, too long) */
static int
bouncecheck_path(const struct config *c, const char *name, char *out,
    size_t outlen)
{
	int n;

	if (c->state_dir == NULL || c->state_dir[0] == '\0')
		return -1;
	n = snprintf(out, outlen, "%s/%s", c->state_dir, name);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* bouncecheck_save - the definite verdicts to state_dir/bouncestates, atomically */
static void
bouncecheck_save(struct bouncecheck_thread *bt)
{
	char path[4096], tmp[4096], eb[128];
	struct buf text = BUF_INIT;
	size_t i, n = 0;
	int fd, saved = 0;

	bt->dirty = 0;
	if (bouncecheck_path(bt->cfg, BOUNCECHECK_FILE, path, sizeof(path)) != 0
	    || bouncecheck_path(bt->cfg, BOUNCECHECK_FILE ".tmp", tmp,
	    sizeof(tmp)) != 0)
		return;
	buf_puts(&text, BOUNCECHECK_MAGIC "\n");
	for (i = 0; i < bt->n; i++) {
		if (bt->v[i].health != BOUNCE_HEALTH_OK
		    && bt->v[i].health != BOUNCE_HEALTH_BROKEN)
			continue;
		buf_printf(&text, "%s %s %s %lld\n", bt->v[i].bdom,
		    bouncecheck_health_name(bt->v[i].health),
		    bt->v[i].why == BOUNCE_WHY_NONE ? "-"
		    : bouncecheck_why_name(bt->v[i].why), (long long)bt->v[i].at);
		n++;
	}
	buf_printf(&text, "end %zu\n", n);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	errno = 0;
	if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len
	    || fsync(fd) != 0)
		saved = errno != 0 ? errno : EIO;
	if (fd >= 0 && close(fd) != 0 && saved == 0)
		saved = errno;
	if (saved == 0 && rename(tmp, path) != 0)
		saved = errno;
	if (saved != 0) {
		log_warn(NULL, "bounce check: cannot save the states to %s: %s",
		    path, log_errstr(saved, eb, sizeof(eb)));
		(void)unlink(tmp);
	}
	buf_free(&text);
}

/* bouncecheck_named - the state or reason named s, or -1 */
static int
bouncecheck_named(const char *s, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/*
 * bouncecheck_load - the states file's verdicts into the entries (for the
 * change logging and the file). Only "ok" is given to a domain block: one
 * known broken before a restart is rewritten into until it is checked
 * again (at once), never stopped on an old verdict.
 */
static void
bouncecheck_load(struct bouncecheck_thread *bt)
{
	char path[4096], line[1100], bdom[1025], hs[32], ws[32];
	const struct config_domain *d;
	struct bouncecheck_entry *e;
	long long at;
	int h, w, magic = 0, n = 0;
	size_t count = 0;
	FILE *fp;

	if (bouncecheck_path(bt->cfg, BOUNCECHECK_FILE, path, sizeof(path)) != 0
	    || (fp = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL && n++ < 1000000) {
		if (!magic) {
			magic = strcmp(line, BOUNCECHECK_MAGIC "\n") == 0;
			if (!magic)
				break;
			continue;
		}
		if (sscanf(line, "%1024s %31s %31s %lld", bdom, hs, ws, &at)
		    != 4
		    || (h = bouncecheck_named(hs, bouncecheck_health_names,
		    BOUNCE_NHEALTH)) < 0)
			continue;
		w = bouncecheck_named(ws, bouncecheck_why_names, BOUNCE_NWHY);
		if ((e = bouncecheck_find(bt, bdom)) == NULL)
			continue;
		e->health = (enum bounce_health)h;
		e->why = w > 0 ? (enum bounce_why)w : BOUNCE_WHY_NONE;
		e->at = (time_t)at;
		count++;
		d = config_find_bounce_domain(bt->cfg, e->bdom);
		if (d != NULL && e->health == BOUNCE_HEALTH_OK
		    && bouncecheck_get(d, NULL) == BOUNCE_HEALTH_UNCHECKED)
			bouncecheck_set(d, BOUNCE_HEALTH_OK, BOUNCE_WHY_NONE);
	}
	(void)fclose(fp);
	if (count > 0)
		log_info(NULL, "bounce check: %zu states read from %s", count,
		    path);
}

/* bouncecheck_sync - move to the installed snapshot: its bounce domains, keeping what is known */
static void
bouncecheck_sync(struct bouncecheck_thread *bt)
{
	struct config *c = config_acquire();
	struct bouncecheck_entry *v, *old;
	const struct config_domain *d;
	time_t now = bouncecheck_mono();
	size_t i;

	if (c == NULL)
		return;
	v = xcalloc(c->nbounce + 1, sizeof(*v));
	for (i = 0; i < c->nbounce; i++) {
		d = c->by_bounce[i];
		v[i].next = now;
		if ((old = bouncecheck_find(bt, d->bounce_domain)) != NULL) {
			v[i] = *old;
			/* a reload after a DNS fix: the broken ones at once */
			if (old->health != BOUNCE_HEALTH_OK)
				v[i].next = now;
		}
		v[i].bdom = xstrdup(d->bounce_domain);
		/* the block keeps the state carried over, or the one known */
		if (!c->bounce_check)
			bouncecheck_set(d, BOUNCE_HEALTH_UNCHECKED,
			    BOUNCE_WHY_NONE);
		else if (v[i].checked && bouncecheck_get(d, NULL)
		    == BOUNCE_HEALTH_UNCHECKED)
			bouncecheck_set(d, v[i].health, v[i].why);
	}
	for (i = 0; i < bt->n; i++)
		free(bt->v[i].bdom);
	free(bt->v);
	bt->v = v;
	bt->n = c->nbounce;
	if (bt->cfg != NULL)
		config_release(bt->cfg);
	bt->cfg = c;
	if (!bt->loaded) {
		bt->loaded = 1;
		bouncecheck_load(bt);
	}
}

/* bouncecheck_note - a lookup's verdict: kept, applied to the block, logged once when it changed */
static void
bouncecheck_note(struct bouncecheck_thread *bt, struct bouncecheck_entry *e,
    enum bounce_health h, enum bounce_why why, const char *detail)
{
	const struct config_domain *d = config_find_bounce_domain(bt->cfg,
	    e->bdom);
	const char *name = d != NULL ? d->name : "?";
	enum bounce_health was = e->health;

	/* no answer keeps a definite verdict, as for keys */
	if (h == BOUNCE_HEALTH_UNKNOWN && (was == BOUNCE_HEALTH_OK
	    || was == BOUNCE_HEALTH_BROKEN)) {
		log_debug(NULL, "bounce domain %s: no answer (%s), still %s",
		    e->bdom, detail, bouncecheck_health_name(was));
		return;
	}
	if (d != NULL)
		bouncecheck_set(d, h, why);
	if ((h == was && why == e->why && e->checked)
	    || h == BOUNCE_HEALTH_UNCHECKED)
		return;
	if (h == BOUNCE_HEALTH_BROKEN && was == BOUNCE_HEALTH_BROKEN
	    && why == e->why)
		log_notice(NULL, "bounce domain %s (domain %s): still broken, "
		    "as before the restart (%s): its mail keeps its own "
		    "Return-Path", e->bdom, name, detail);
	else if (h == BOUNCE_HEALTH_BROKEN)
		log_warn(NULL, "bounce domain %s (domain %s): broken, %s (%s): "
		    "its mail keeps its own Return-Path until this is fixed",
		    e->bdom, name, bouncecheck_why_name(why), detail);
	else if (h == BOUNCE_HEALTH_OK && was == BOUNCE_HEALTH_BROKEN)
		log_notice(NULL, "bounce domain %s (domain %s): fixed (%s): "
		    "rewritten into again", e->bdom, name, detail);
	else
		log_info(NULL, "bounce domain %s (domain %s): %s (%s)", e->bdom,
		    name, bouncecheck_health_name(h), detail);
	if (h != was || why != e->why)
		bt->dirty = 1;
	e->health = h;
	e->why = why;
	e->at = clock_now();
}

/* bouncecheck_due - the entry due first (index), or -1 with none; *when its time */
static long
bouncecheck_due(const struct bouncecheck_thread *bt, time_t *when)
{
	long best = -1;
	size_t i;

	if (bt->cfg == NULL || !bt->cfg->bounce_check)
		return -1;
	for (i = 0; i < bt->n; i++)
		if (bt->v[i].next != 0 && (best < 0
		    || bt->v[i].next < bt->v[best].next))
			best = (long)i;
	if (best >= 0)
		*when = bt->v[best].next;
	return best;
}

/* bouncecheck_run - look entry i up and schedule its next lookup */
static void
bouncecheck_run(struct bouncecheck_thread *bt, size_t i)
{
	struct bouncecheck_entry *e = &bt->v[i];
	long interval = bt->cfg->key_check_interval;
	enum bounce_health h;
	enum bounce_why why;
	char detail[1024];
	time_t now;

	h = bouncecheck_domain_until(bt->cfg, e->bdom, &bt->stop, &why, detail,
	    sizeof(detail));
	if (bouncecheck_stopped(&bt->stop))
		return;		/* a verdict cut short is not one */
	now = bouncecheck_mono();
	bouncecheck_note(bt, e, h, why, detail);
	if (h == BOUNCE_HEALTH_UNKNOWN)
		e->next = now + (interval > 0 && interval < BOUNCECHECK_RETRY
		    ? interval : BOUNCECHECK_RETRY);
	else if (interval <= 0 || h == BOUNCE_HEALTH_UNCHECKED)
		e->next = 0;	/* never again (until a reload) */
	else if (!e->checked)	/* the first pass: spread the next ones */
		e->next = now + interval * (time_t)(i + 1) / (time_t)bt->n;
	else
		e->next = now + interval;
	e->checked = 1;
}

static void bouncecheck_free(struct bouncecheck_thread *bt);

/* bouncecheck_thread - wait for the next domain due, a reload or the stop */
static void *
bouncecheck_thread(void *arg)
{
	struct bouncecheck_thread *bt = arg;
	struct timespec until;
	time_t when = 0;
	long i = -1;
	int abandoned;

	bouncecheck_sync(bt);
	for (;;) {
		pthread_mutex_lock(&bt->lock);
		for (;;) {
			if (bt->stop || bt->wake)
				break;
			i = bouncecheck_due(bt, &when);
			if (i >= 0 && when <= bouncecheck_mono())
				break;
			/* states settled: save them while nothing is due */
			if (bt->dirty) {
				pthread_mutex_unlock(&bt->lock);
				bouncecheck_save(bt);
				pthread_mutex_lock(&bt->lock);
				continue;
			}
			(void)clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec = i >= 0 ? when : until.tv_sec + 3600;
			until.tv_nsec = 0;
			(void)pthread_cond_timedwait(&bt->cond, &bt->lock,
			    &until);
		}
		if (bt->stop) {
			pthread_mutex_unlock(&bt->lock);
			break;
		}
		if (bt->wake) {
			bt->wake = 0;
			pthread_mutex_unlock(&bt->lock);
			bouncecheck_sync(bt);
			continue;
		}
		pthread_mutex_unlock(&bt->lock);
		bouncecheck_run(bt, (size_t)i);
	}
	if (bt->dirty)
		bouncecheck_save(bt);
	pthread_mutex_lock(&bt->lock);
	bt->done = 1;
	abandoned = bt->abandoned;
	pthread_cond_broadcast(&bt->cond);
	pthread_mutex_unlock(&bt->lock);
	if (abandoned)		/* the process is stopping without us */
		bouncecheck_free(bt);
	return NULL;
}

/* bouncecheck_start - the checker thread */
struct bouncecheck_thread *
bouncecheck_start(char *err, size_t errlen)
{
	struct bouncecheck_thread *bt = xcalloc(1, sizeof(*bt));
	pthread_condattr_t ca;

	pthread_mutex_init(&bt->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bt->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&bt->tid, NULL, bouncecheck_thread, bt) != 0) {
		(void)log_fail(err, errlen, "bounce check: cannot start its "
		    "thread");
		pthread_mutex_destroy(&bt->lock);
		pthread_cond_destroy(&bt->cond);
		free(bt);
		return NULL;
	}
	return bt;
}

/* bouncecheck_wake - move to the installed snapshot */
void
bouncecheck_wake(struct bouncecheck_thread *bt)
{
	if (bt == NULL)
		return;
	pthread_mutex_lock(&bt->lock);
	bt->wake = 1;
	pthread_cond_signal(&bt->cond);
	pthread_mutex_unlock(&bt->lock);
}

/* bouncecheck_stop - end the thread and free; a lookup under way (up to
 * dns_timeout) is not waited for beyond BOUNCECHECK_STOP_MS: the thread
 * is then left to end and free itself (its snapshot reference keeps the
 * resolver alive), so that SIGTERM is served at once */
void
bouncecheck_stop(struct bouncecheck_thread *bt)
{
	struct timespec until;

	if (bt == NULL)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += BOUNCECHECK_STOP_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&bt->lock);
	__atomic_store_n(&bt->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&bt->cond);
	while (!bt->done && pthread_cond_timedwait(&bt->cond, &bt->lock,
	    &until) != ETIMEDOUT)
		;
	if (!bt->done) {
		bt->abandoned = 1;
		pthread_mutex_unlock(&bt->lock);
		(void)pthread_detach(bt->tid);
		log_info(NULL, "bounce check: not waiting for its lookup under "
		    "way (stopping)");
		return;
	}
	pthread_mutex_unlock(&bt->lock);
	pthread_join(bt->tid, NULL);
	bouncecheck_free(bt);
}

/* bouncecheck_free - what the thread had */
static void
bouncecheck_free(struct bouncecheck_thread *bt)
{
	size_t i;

	for (i = 0; i < bt->n; i++)
		free(bt->v[i].bdom);
	free(bt->v);
	if (bt->cfg != NULL)
		config_release(bt->cfg);
	pthread_mutex_destroy(&bt->lock);
	pthread_cond_destroy(&bt->cond);
	free(bt);
}
