/*
 * milterload_idle.c - idle connections and the probes sent on them (-I,
 * -P): many MTA connections open and silent, as Postfix keeps one per
 * smtpd process, while the usual connections (-c) carry the background
 * load; a probe is one message on an idle connection, its latency the
 * time to answer a connection that was silent.
 *
 * Threading: idle_open runs in the main thread before the load starts;
 * then one probe thread owns every idle connection (the probes go one at
 * a time) until idle_finish joins it and closes them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "milterload.h"

static struct conn *idle_conns;		/* opt.idle connections */
static unsigned *idle_order;		/* the probes' order: a shuffle */
static pthread_t idle_thread;		/* the probe thread */
static int idle_started;		/* it was created */

/* idle_nofile - raise the open file limit to fit the idle connections */
static void
idle_nofile(void)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)opt.idle * opt.nsocks + opt.conns * opt.nsocks + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
	    ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
		fprintf(stderr, "milterload: -I %u needs %lu open files; the "
		    "limit is %lu\n", opt.idle, (unsigned long)need,
		    (unsigned long)rl.rlim_cur);
}

/* idle_open - open and greet opt.idle connections; how many failed */
unsigned
idle_open(void)
{
	unsigned i, j, t, bad = 0, seed = (unsigned)getpid();

	if (opt.idle == 0)
		return 0;
	idle_nofile();
	idle_conns = calloc(opt.idle, sizeof(*idle_conns));
	idle_order = calloc(opt.idle, sizeof(*idle_order));
	if (idle_conns == NULL || idle_order == NULL)
		fatal("out of memory");
	for (i = 0; i < opt.idle; i++) {
		idle_conns[i].id = opt.conns + 1 + i;
		if (conn_open_all(&idle_conns[i]) != V_CONTINUE)
			bad++;
		idle_order[i] = i;
	}
	for (i = opt.idle - 1; i > 0; i--) {	/* Fisher-Yates */
		j = (unsigned)rand_r(&seed) % (i + 1);
		t = idle_order[i];
		idle_order[i] = idle_order[j];
		idle_order[j] = t;
	}
	fprintf(stderr, "milterload: %u idle connections open (%u failed)\n",
	    opt.idle - bad, bad);
	return bad;
}

/* idle_interval - seconds between probes: spread over the paced load */
static double
idle_interval(void)
{
	if (opt.rate > 0 && opt.probes > 0)
		return (double)opt.conns * opt.msgs / opt.rate / opt.probes;
	return 0.01;
}

/* idle_main - thread: the probes, one at a time, each on the next idle connection of the shuffle */
static void *
idle_main(void *arg)
{
	double step = idle_interval(), t0;
	struct conn *c;
	struct msg m;
	unsigned p;

	(void)arg;
	memset(&m, 0, sizeof(m));
	for (p = 0; p < opt.probes; p++) {
		sleep_until(tmpl.start + opt.hold + (p + 0.5) * step);
		c = &idle_conns[idle_order[p % opt.idle]];
		if (c->p == NULL || c->p->fd < 0)
			continue;	/* failed at open, or earlier */
		msg_init(c, &m, (unsigned)c->st.sent + 1);
		c->st.sent++;
		t0 = now_mono();
		(void)conn_message(c, &m, t0);
	}
	msg_free(&m);
	return NULL;
}

/* idle_start - start the probe thread (after tmpl.start is set) */
void
idle_start(void)
{
	if (opt.idle == 0 || opt.probes == 0)
		return;
	if (pthread_create(&idle_thread, NULL, idle_main, NULL) != 0)
		fatal("cannot start the probe thread");
	idle_started = 1;
}

/* idle_finish - join the probes, close the idle connections, add up what they saw */
void
idle_finish(struct stats *t, double **latp, size_t *nlatp)
{
	struct stats *s;
	size_t nlat = 0, i, k;
	double *lat;

	memset(t, 0, sizeof(*t));
	*latp = NULL;
	*nlatp = 0;
	if (opt.idle == 0)
		return;
	if (idle_started)
		pthread_join(idle_thread, NULL);
	for (i = 0; i < opt.idle; i++)
		nlat += idle_conns[i].nlat;
	lat = xmalloc(sizeof(double) * (nlat + 1));
	for (nlat = 0, i = 0; i < opt.idle; i++) {
		conn_close_all(&idle_conns[i]);
		s = &idle_conns[i].st;
		t->sent += s->sent;
		t->completed += s->completed;
		t->accepted += s->accepted;
		t->signedmsgs += s->signedmsgs;
		for (k = 0; k < E_COUNT; k++)
			t->err[k] += s->err[k];
		if (idle_conns[i].nlat > 0)
			memcpy(lat + nlat, idle_conns[i].lat,
			    idle_conns[i].nlat * sizeof(double));
		nlat += idle_conns[i].nlat;
		free(idle_conns[i].lat);
	}
	free(idle_conns);
	free(idle_order);
	*latp = lat;
	*nlatp = nlat;
}
