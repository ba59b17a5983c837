/*
 * milterload.h - shared types of the milterload test client.
 *
 * milterload.c parses options and reports; milterload_msg.c builds the
 * messages and writes them out; milterload_dkim.c signs them once at start
 * (-D); milterload_proto.c speaks the milter protocol, one thread per
 * connection (to one milter, or to each of a chain); milterload_idle.c
 * holds idle connections and sends probes on them (-I, -P), one thread
 * for all of them; milterload_smtp.c sends the messages to an MTA by SMTP
 * instead (-X), one thread per connection. opt and tmpl are written before
 * threads start and only read afterwards; each thread writes only its own
 * struct conn.
 */
#ifndef MILTERLOAD_H
#define MILTERLOAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MAX_RCPTS	32		/* -r may be given this often */
#define MAX_MILTERS	4		/* -S may be given this often (a chain) */
#define MAX_SIGS	2		/* -D may be given this often */

enum verdict {
	V_CONTINUE,	/* go on with the next step */
	V_ACCEPT,	/* message (or connection) accepted, skip the rest */
	V_REJECT,	/* 5xx */
	V_TEMPFAIL,	/* 4xx */
	V_DISCARD,	/* accept and drop */
	V_SKIP,		/* stop sending body chunks */
	V_SHUTDOWN,	/* milter gave up on the connection */
	V_ERROR		/* protocol error, timeout or disconnect; already counted */
};

enum err { E_PROTO, E_TIMEOUT, E_DISCONNECT, E_CONNECT, E_IO, E_COUNT };

enum mod {
	M_ADDHEADER, M_INSHEADER, M_CHGHEADER, M_CHGFROM, M_ADDRCPT,
	M_ADDRCPT_PAR, M_DELRCPT, M_REPLBODY, M_QUARANTINE, M_PROGRESS, M_COUNT
};

extern const char *const err_names[E_COUNT];	/* "protocol", ... */
extern const char *const mod_names[M_COUNT];	/* "addheader", ... */

/* sigkey - a DKIM key milterload signs its messages with before sending */
struct sigkey {
	char sel[64];			/* selector */
	const char *domain;		/* d=, NULL: the From domain */
	void *pkey;			/* EVP_PKEY, owned */
};

struct opts {
	const char *sock;		/* the first -S (or -X) as given */
	const char *mta;		/* -X HOST:PORT, NULL: speak milter */
	const char *socks[MAX_MILTERS];	/* every -S, in chain order */
	struct sockaddr_storage addr[MAX_MILTERS];	/* resolved addresses */
	socklen_t addrlen[MAX_MILTERS];	/* their lengths */
	unsigned nsocks;		/* milters in the chain */
	struct sigkey keys[MAX_SIGS];	/* -D signatures, in signing order */
	unsigned nkeys;			/* how many */
	const char *helo;		/* -h HELO name */
	unsigned conns;			/* -c connections */
	unsigned msgs;			/* -m messages per connection */
	size_t size;			/* -s body bytes of generated messages */
	int multipart;			/* -s multipart */
	const char *authuser;		/* -a {auth_authen}, NULL: not sent */
	const char *clientip;		/* -i address in SMFIC_CONNECT */
	int clientfam;			/* SMFIA_INET, SMFIA_INET6 or SMFIA_UNIX */
	char mailfrom[512];		/* -f envelope sender */
	const char *rcpts[MAX_RCPTS];	/* -r envelope recipients */
	unsigned nrcpts;		/* how many */
	const char *fromdomain;		/* -F domain of the From: header */
	unsigned ndomains;		/* -n From domains dK.fromdomain, 0: one */
	const char *daemon;		/* -d {daemon_name} */
	const char *msgfile;		/* -M message file, NULL: generate */
	const char *outdir;		/* -o output directory, NULL: none */
	double tlimit;			/* -t overall seconds */
	double treply;			/* -T seconds per reply */
	double hold;			/* -H idle seconds after greeting, 0: none */
	double rate;			/* -R messages/s over all connections, 0: flat out */
	unsigned idle;			/* -I idle connections opened first */
	unsigned probes;		/* -P messages on idle connections */
	int quiet;			/* -q no human report */
	int json;			/* -j JSON line */
	int verbose;			/* -v replies and modifications on stderr */
	int quickack;			/* -Q TCP_QUICKACK: defeat milter-side Nagle */
	long expect_signed;		/* -e, -1 when not given */
};

/* gbuf - growable byte buffer, NUL-terminated once allocated */
struct gbuf {
	char *data;			/* bytes */
	size_t len;			/* used */
	size_t cap;			/* allocated */
};

struct hdr {
	char *name;			/* field name */
	char *value;			/* text after the colon: leading space, LF folds */
};

struct hlist {
	struct hdr *v;			/* headers in message order */
	size_t n;			/* count */
	size_t cap;			/* allocated slots */
};

struct tmpl {
	struct hlist hdrs;		/* -M headers; empty when generating */
	char *body;			/* CRLF body shared by every message */
	size_t bodylen;			/* its length */
	char token[17];			/* run-unique hex for Message-ID */
	struct presig *pool;		/* with -D: messages signed at start */
	size_t npool;			/* how many (one per From domain) */
	double start;			/* monotonic start of the run */
};

struct stats {
	unsigned long sent;		/* messages started */
	unsigned long completed;	/* got a final verdict */
	unsigned long accepted;		/* ... accept or continue */
	unsigned long rejected;		/* ... reject or 5xx */
	unsigned long tempfailed;	/* ... tempfail, 4xx or shutdown */
	unsigned long discarded;	/* ... discard */
	unsigned long quarantined;	/* accepted with SMFIR_QUARANTINE */
	unsigned long signedmsgs;	/* accepted with a DKIM-Signature added */
	unsigned long authpass;		/* accepted with dkim, spf and dmarc pass
					 * in the Authentication-Results added */
	unsigned long unsent;		/* not started: error or time limit */
	unsigned long timelimit;	/* 1 if the time limit stopped us */
	unsigned long xclient;		/* -X: sessions where XCLIENT was accepted */
	unsigned long err[E_COUNT];	/* errors by kind */
	unsigned long mod[M_COUNT];	/* modifications by kind */
};

/* presig - one pre-signed message: its headers and envelope sender */
struct presig {
	struct hlist hdrs;		/* headers, DKIM-Signatures first */
	char *envfrom;			/* envelope sender */
};

/* peer - one milter of the chain, as seen from one connection */
struct peer {
	unsigned k;			/* 0-based place in the chain */
	int fd;				/* milter socket, -1 when closed */
	uint32_t prot;			/* protocol flags the milter chose */
	struct gbuf out;		/* queued packets not yet written */
	struct gbuf in;			/* bytes read, from inoff on unconsumed */
	size_t inoff;			/* start of unconsumed input */
	int conn_done;			/* accepted the connection: no more steps */
	int msg_done;			/* accepted this message: no more steps */
	int at_eob;			/* saw this message's end */
};

struct conn {
	unsigned id;			/* 1-based connection number */
	pthread_t thread;		/* its thread */
	int started;			/* thread was created */
	struct peer peers[MAX_MILTERS];	/* one per -S */
	struct peer *p;			/* the milter being talked to */
	struct stats st;		/* this connection's counters */
	double *lat;			/* latency per completed message, ms */
	size_t nlat;			/* entries used */
	size_t latcap;			/* entries allocated */
};

struct msg {
	unsigned idx;			/* 1-based message number */
	char qid[32];			/* macro i */
	struct hlist hdrs;		/* headers, with -o after modifications */
	char *envfrom;			/* envelope sender, after CHGFROM */
	struct gbuf newbody;		/* SMFIR_REPLBODY data */
	int replbody;			/* newbody replaces the body */
	int signedmsg;			/* a DKIM-Signature was added */
	int quarantined;		/* SMFIR_QUARANTINE seen */
	int at_eob;			/* every milter saw the whole message */
	unsigned ar_dkim_pass;		/* dkim=pass in added A-R headers */
	unsigned ar_dkim_other;		/* dkim= anything else */
	int ar_spf_pass;		/* spf=pass seen */
	int ar_dmarc_pass;		/* dmarc=pass seen */
};

extern struct opts opt;
extern struct tmpl tmpl;

/* fatal - print a message and exit(2); start-up only */
void fatal(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
/* cwarn - print a line tagged with connection and message (m may be NULL) */
void cwarn(const struct conn *c, const struct msg *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* xmalloc - malloc or die */
void *xmalloc(size_t n);
/* xstrdup - strdup or die */
char *xstrdup(const char *s);
/* now_mono - monotonic clock in seconds */
double now_mono(void);

/* gb_reserve - make room for n more bytes plus a NUL */
void gb_reserve(struct gbuf *b, size_t n);
/* gb_add - append n bytes */
void gb_add(struct gbuf *b, const void *p, size_t n);
/* gb_str0 - append a C string with its NUL, as the protocol wants */
void gb_str0(struct gbuf *b, const char *s);
/* gb_free - release a buffer */
void gb_free(struct gbuf *b);
/* hl_insert - insert copies of name and value at index at (clamped) */
void hl_insert(struct hlist *l, size_t at, const char *name, const char *value);
/* hl_clear - free all headers, keep the slots */
void hl_clear(struct hlist *l);

/* tmpl_init - build the shared body (or load -M) and the run token */
void tmpl_init(void);
/* tmpl_free - release the template */
void tmpl_free(void);
/* msg_init - headers and envelope for message idx of connection c */
void msg_init(const struct conn *c, struct msg *m, unsigned idx);
/* msg_free - release a message's storage */
void msg_free(struct msg *m);
/* msg_addr - addr in angle brackets unless it has them already */
void msg_addr(char *out, size_t size, const char *addr);
/* msg_write - the message as it leaves the MTA, to DIR/<conn>-<msg>.eml */
int msg_write(struct conn *c, struct msg *m);

/* dkim_pool_init - sign npool messages, one per From domain, with -D keys */
void dkim_pool_init(void);
/* dkim_pool_free - release the pool */
void dkim_pool_free(void);
/* dkim_key_load - parse -D SEL:KEYFILE[:DOMAIN] into k */
void dkim_key_load(struct sigkey *k, const char *spec);
/* msg_domain - the From domain of message idx of connection c */
void msg_domain(const struct conn *c, unsigned idx, char *dom, size_t size);
/* msg_std_headers - the generated headers for From domain dom */
void msg_std_headers(struct hlist *l, const char *dom, const char *mid,
    const char *date);

/* conn_main - thread body: one milter connection, opt.msgs messages */
void *conn_main(void *arg);
/* conn_open_all - connect c to every milter, CONNECT and HELO; its verdict */
enum verdict conn_open_all(struct conn *c);
/* conn_message - message m on the open connection c, counted with latency from t0 */
enum verdict conn_message(struct conn *c, struct msg *m, double t0);
/* conn_close_all - QUIT and close every milter connection of c */
void conn_close_all(struct conn *c);
/* sleep_until - sleep (never spin) until monotonic time t */
void sleep_until(double t);
/* io_wait - poll fd for ev until monotonic time limit; 1 ready, 0 timed
 * out, -1 error */
int io_wait(int fd, short ev, double limit);

/* smtp_init - dot-stuff the body once, before the threads start (-X) */
void smtp_init(void);
/* smtp_free - release it */
void smtp_free(void);
/* smtp_main - thread body: opt.msgs messages to the MTA, one SMTP session
 * each */
void *smtp_main(void *arg);

/* idle_open - open and greet opt.idle connections; how many failed */
unsigned idle_open(void);
/* idle_start - start the probe thread (after tmpl.start is set) */
void idle_start(void);
/* idle_finish - join the probes, close the idle connections, add up what they saw */
void idle_finish(struct stats *t, double **latp, size_t *nlatp);

#endif
