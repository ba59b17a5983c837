/*
 * check_main.c - authmilter-check: are a domain's DNS records ready?
 *
 *   authmilter-check [-c FILE] [DOMAIN...]
 *
 * For each domain block of the conf (or those named), prints one verdict
 * line per DKIM key record, the SPF record and its lookup cost, the DMARC
 * record and the bounce domain, and exits 1 when anything is broken.
 * Reads the private keys (to compare the published p=), so run it as the
 * user that can read them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/config.h"
#include "base/dns.h"
#include "tools/domaincheck.h"
#include "base/log.h"

#define CHECK_DEFAULT_CONF SYSCONFDIR "/authmilter/authmilter.conf"

/* check_usage - print usage and exit */
static void
check_usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: authmilter-check [-c FILE] "
	    "[DOMAIN...]\n  -c FILE  configuration (default %s)\n",
	    CHECK_DEFAULT_CONF);
	exit(status);
}

int
main(int argc, char **argv)
{
	const char *path = CHECK_DEFAULT_CONF;
	struct dns_options dopt;
	struct config_problems probs = { NULL, 0, 0 };
	const struct config_domain *dom;
	struct config *c;
	struct dns *d;
	char err[1024];
	int ch, i, worst = DOMAINCHECK_OK, l;
	size_t j;

	while ((ch = getopt(argc, argv, "c:h")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'h': check_usage(0); break;
		default: check_usage(2);
		}
	}
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_ERR);
	c = config_load_from(path, NULL, NULL, 0, &probs, err, sizeof(err));
	for (j = 0; j < probs.n; j++)
		fprintf(stderr, "authmilter-check: %s\n", probs.v[j].text);
	if (probs.n > 0)	/* a block left out cannot be checked */
		worst = DOMAINCHECK_FAIL;
	config_problems_free(&probs);
	if (c == NULL) {
		fprintf(stderr, "authmilter-check: %s\n", err);
		return 2;
	}
	memset(&dopt, 0, sizeof(dopt));
	dopt.servers = (const char *const *)c->dns_servers.v;
	dopt.nservers = c->dns_servers.n;
	dopt.trust_anchor = c->trust_anchor_file[0] ? c->trust_anchor_file : NULL;
	dopt.timeout_ms = (int)(c->dns_timeout * 1000);
	if ((d = dns_new(&dopt, err, sizeof(err))) == NULL) {
		fprintf(stderr, "authmilter-check: %s\n", err);
		config_free(c);
		return 2;
	}
	for (i = optind; i < argc; i++)
		if (config_find_domain(c, argv[i]) == NULL) {
			printf("FAIL %-40s no domain block in %s\n", argv[i], path);
			worst = DOMAINCHECK_FAIL;
		}
	for (j = 0; j < c->ndomains; j++) {
		dom = &c->domains[j];
		if (optind < argc) {
			for (i = optind; i < argc; i++)
				if (strcasecmp(argv[i], dom->name) == 0)
					break;
			if (i == argc)
				continue;
		}
		l = domaincheck_domain(d, dom, stdout);
		if (l > worst)
			worst = l;
	}
	dns_free(d);
	config_free(c);
	return worst == DOMAINCHECK_FAIL ? 1 : 0;
}
