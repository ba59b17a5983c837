/*
 * config_file.c - the files of a configuration: reading them, `include
 * PATTERN`, and the load that runs over them.
 *
 * The main file may hold `include PATTERN` lines at its top level: the
 * files the pattern matches (sorted by byte value, wildcards in the last
 * component only) are read there and then, one after the other. An
 * included file holds domain blocks only and may not include others (one
 * level: what an ESP's domains.d/ needs, and nothing to bound). A block
 * ends in the file it starts in. No match is fine (a fresh install's empty
 * directory); a missing directory is a fatal error, as is a pattern
 * without wildcards naming no file. An included file names key files, so
 * it must be one only root can change (secret_open_trusted), like the main
 * file.
 *
 * Threading: a load runs in one thread; nothing here is shared.
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/xalloc.h"
#include "policy/config.h"
#include "policy/config_parse.h"
#include "policy/config_table.h"

#define CONFIG_FILE_MAX (16 * 1024 * 1024)	/* larger conf files are refused */
#define CONFIG_FILE_MAX_ERRORS 100	/* a file with more is not read further */

/* config_file_note - record path among the snapshot's files */
const char *
config_file_note(struct config_parse *p, const char *path)
{
	struct config_words *w = &p->c->files;

	/* grown by doubling (100,000 included files) */
	if ((w->n & (w->n - 1)) == 0) {
		w->v = xreallocarray(w->v, w->n ? 2 * w->n : 1, sizeof(*w->v));
		p->c->finfo = xreallocarray(p->c->finfo, w->n ? 2 * w->n : 1,
		    sizeof(*p->c->finfo));
	}
	memset(&p->c->finfo[w->n], 0, sizeof(*p->c->finfo));
	w->v[w->n] = xstrdup(path);
	return w->v[w->n++];
}

/* config_stat_conf - an included file's identity through the load's source; 0 or -1 */
static int
config_stat_conf(const struct config_parse *p, const char *path,
    struct key_ident *id)
{
	if (p->src != NULL && p->src->stat_conf != NULL)
		return p->src->stat_conf(p->src->arg, path, id);
	return keys_ident_stat(path, 1, id);
}

/* config_file_read_fp - the text of an open conf file */
static int
config_file_read_fp(FILE *fp, const char *path, struct buf *text, char *err,
    size_t errlen)
{
	char chunk[8192];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		buf_append(text, chunk, n);
		if (text->len > CONFIG_FILE_MAX) {
			(void)snprintf(err, errlen, "%s: larger than 16 MB", path);
			return -1;
		}
	}
	if (ferror(fp)) {
		(void)snprintf(err, errlen, "%s: read error", path);
		return -1;
	}
	if (memchr(buf_cstr(text), '\0', text->len) != NULL) {
		(void)snprintf(err, errlen, "%s: contains a NUL byte", path);
		return -1;
	}
	return 0;
}

/*
 * config_file_read_trusted - an included file's text, opened only if no
 * user but root can change it, and its identity from the same open (at a
 * start no separate stat: 100,000 files); 0, or -1 with err
 */
static int
config_file_read_trusted(const char *path, struct buf *text,
    struct key_ident *id, char *err, size_t errlen)
{
	char subject[PATH_MAX + 32], ebuf[128];
	struct stat st;
	size_t want;
	ssize_t n;
	int fd;

	(void)snprintf(subject, sizeof(subject), "included file %s", path);
	fd = secret_open_trusted(path, SECRET_ALLOW_SYMLINK, subject, &st, err,
	    errlen);
	if (fd < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "%s: not a regular file", subject);
		close(fd);
		return -1;
	}
	if (id != NULL)
		keys_ident_of(&st, id);
	/* its size and one byte more: a short read of a regular file is its end */
	for (;;) {
		want = (st.st_size > 0 ? (size_t)st.st_size : 0) + 1;
		buf_reserve(text, want);
		n = read(fd, text->data + text->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)snprintf(err, errlen, "%s: read error: %s", path,
			    log_errstr(errno, ebuf, sizeof(ebuf)));	/* as fread's */
			close(fd);
			return -1;
		}
		text->len += (size_t)n;
		if (text->len > CONFIG_FILE_MAX) {
			(void)snprintf(err, errlen, "%s: larger than 16 MB", path);
			close(fd);
			return -1;
		}
		if ((size_t)n < want)
			break;
		st.st_size = (off_t)text->len;	/* it grew: read on */
	}
	close(fd);
	text->data[text->len] = '\0';
	if (memchr(text->data, '\0', text->len) != NULL) {
		(void)snprintf(err, errlen, "%s: contains a NUL byte", path);
		return -1;
	}
	return 0;
}

/* config_file_read - a conf file's text */
int
config_file_read(const char *path, int included, struct buf *text, char *err,
    size_t errlen)
{
	char ebuf[128];
	FILE *fp;
	int rc;

	if (included)
		return config_file_read_trusted(path, text, NULL, err, errlen);
	if ((fp = fopen(path, "re")) == NULL)
		(void)snprintf(err, errlen, "%s: cannot open: %s", path,
		    log_errstr(errno, ebuf, sizeof(ebuf)));
	if (fp == NULL)
		return -1;
	rc = config_file_read_fp(fp, path, text, err, errlen);
	fclose(fp);
	return rc;
}

/* config_file_magic - does s[0..n) hold a glob wildcard? */
static int
config_file_magic(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[')
			return 1;
	return 0;
}

/* config_file_cmp - byte order of two paths (for qsort) */
static int
config_file_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* config_file_dir_ok - 0 if the directory part of pattern (len dl) is a directory, else -1 with err */
static int
config_file_dir_ok(const char *pattern, size_t dl, char *err, size_t errlen)
{
	char dir[PATH_MAX], ebuf[128];
	struct stat st;

	if (config_file_magic(pattern, dl)) {
		(void)snprintf(err, errlen, "include %s: wildcards are allowed in "
		    "the file name only", pattern);
		return -1;
	}
	if (dl >= sizeof(dir)) {
		(void)snprintf(err, errlen, "include %s: path too long", pattern);
		return -1;
	}
	memcpy(dir, pattern, dl);
	dir[dl] = '\0';
	if (dl == 0)
		(void)snprintf(dir, sizeof(dir), "%s", pattern[0] == '/' ? "/" : ".");
	if (stat(dir, &st) != 0) {
		(void)snprintf(err, errlen, "include %s: directory %s: %s",
		    pattern, dir, log_errstr(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(void)snprintf(err, errlen, "include %s: %s is not a directory",
		    pattern, dir);
		return -1;
	}
	return 0;
}

/* config_file_glob - the files pattern matches, sorted */
int
config_file_glob(const char *pattern, struct config_words *files, char *err,
    size_t errlen)
{
	const char *slash = strrchr(pattern, '/');
	size_t i, dl = slash == NULL ? 0 : (size_t)(slash - pattern);
	glob_t g;
	int rc;

	files->v = NULL;
	files->n = 0;
	files->packed = 0;
	if (config_file_dir_ok(pattern, dl, err, errlen) != 0)
		return -1;
	rc = glob(pattern, GLOB_ERR | GLOB_NOSORT, NULL, &g);
	if (rc == GLOB_NOMATCH && !config_file_magic(pattern, strlen(pattern))) {
		(void)snprintf(err, errlen, "include %s: no such file", pattern);
		return -1;
	}
	if (rc == GLOB_NOMATCH)
		return 0;
	if (rc != 0) {
		(void)snprintf(err, errlen, "include %s: cannot read the directory",
		    pattern);
		return -1;
	}
	files->v = xcalloc(g.gl_pathc + 1, sizeof(*files->v));
	for (i = 0; i < g.gl_pathc; i++)
		files->v[files->n++] = xstrdup(g.gl_pathv[i]);
	globfree(&g);
	qsort(files->v, files->n, sizeof(*files->v), config_file_cmp);
	return 0;
}

/* config_file_text - a file's text through the load's source */
static int
config_file_text(const struct config_parse *p, const char *path, int included,
    struct buf *text, char *err, size_t errlen)
{
	if (p->src != NULL && p->src->read_conf != NULL)
		return p->src->read_conf(p->src->arg, path, included, text, err,
		    errlen);
	return config_file_read(path, included, text, err, errlen);
}

/* config_file_list - the files of a pattern through the load's source */
static int
config_file_list(const struct config_parse *p, const char *pattern,
    struct config_words *files, char *err, size_t errlen)
{
	if (p->src != NULL && p->src->glob != NULL)
		return p->src->glob(p->src->arg, pattern, files, err, errlen);
	return config_file_glob(pattern, files, err, errlen);
}

/* config_file_parse_text - every line of a file's text (modified in place), up to CONFIG_FILE_MAX_ERRORS errors */
static void
config_file_parse_text(struct config_parse *p, char *text)
{
	size_t first = p->probs->n;
	char *line, *next;

	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		p->line++;
		config_parse_line(p, line);
		if (p->probs->n - first >= CONFIG_FILE_MAX_ERRORS && next != NULL) {
			p->dom = NULL;	/* the file's fault, not its open block's */
			config_error(p, "stopped after %d errors: the rest of the "
			    "file is not read", CONFIG_FILE_MAX_ERRORS);
			return;
		}
	}
}

/* config_file_end - a file read to its end: a block left open fails; an included file with a top-level error takes its blocks down */
static void
config_file_end(struct config_parse *p)
{
	size_t i;

	if (p->dom != NULL) {
		p->line = p->dom->line;
		config_error(p, "domain block %s is not closed with \"}\"",
		    p->dom->name);
		p->dom = NULL;
	}
	if (p->included && p->file_failed)
		for (i = p->file_first; i < p->c->ndomains; i++)
			p->c->domains[i].failed = 1;
}

/* config_file_parse_included - read and parse one included file; errors are that file's */
static void
config_file_parse_included(struct config_parse *p, const char *path)
{
	const char *name = p->name, *slash = strrchr(path, '/');
	struct buf text = BUF_INIT;
	char err[1024], *dir = p->dir;
	int line = p->line;

	struct key_ident id;
	int has_id = 0, rc, direct;

	/* read from the disk with nothing to reuse (a start): the identity
	 * comes from the open, not from a stat of its own */
	direct = !p->reuse_ok && (p->src == NULL || (p->src->read_conf == NULL
	    && p->src->stat_conf == NULL));
	if (!direct) {
		has_id = config_stat_conf(p, path, &id) == 0;
		if (has_id && config_reuse_file(p, path, &id))
			return;	/* unchanged since the running snapshot read it */
	}
	p->included = 1;
	p->file_failed = 0;
	p->file_first = p->c->ndomains;
	if (direct) {
		rc = config_file_read_trusted(path, &text, &id, err, sizeof(err));
		has_id = rc == 0;
	} else
		rc = config_file_text(p, path, 1, &text, err, sizeof(err));
	if (rc != 0) {
		config_report(p, NULL, "%s", err);	/* at the include line */
	} else {
		buf_putc(&text, '\0');
		p->name = config_file_note(p, path);
		p->c->finfo[p->c->files.n - 1].id = id;
		p->c->finfo[p->c->files.n - 1].has_id = has_id;
		p->c->files_read++;
		p->dir = slash == NULL ? xstrdup(".") : slash == path
		    ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
		p->line = 0;
		config_file_parse_text(p, text.data);
		config_file_end(p);
		if (p->file_failed)
			p->c->finfo[p->c->files.n - 1].failed = 1;
		free(p->dir);
	}
	buf_free(&text);
	p->included = 0;
	p->name = name;
	p->dir = dir;
	p->line = line;
}

/* config_file_include - handle "include PATTERN" */
void
config_file_include(struct config_parse *p, const char *pattern)
{
	struct config_words files = { NULL, 0, 0 };
	struct buf full = BUF_INIT;
	char err[1024];
	size_t i;

	if (p->dom != NULL) {
		config_error(p, "include is not allowed inside a domain block");
		return;
	}
	if (p->included) {
		config_error(p, "include: an included file cannot include others");
		return;
	}
	if (p->flags & CONFIG_SKIP_INCLUDES)
		return;			/* the global options only */
	if (pattern[0] == '=')		/* "include = PATTERN" reads the same */
		pattern += 1 + strspn(pattern + 1, " \t");
	if (pattern[0] != '/')
		buf_printf(&full, "%s/", p->main_dir);
	buf_puts(&full, pattern);
	if (config_file_list(p, buf_cstr(&full), &files, err, sizeof(err)) != 0)
		config_error(p, "%s", err);
	for (i = 0; i < files.n; i++)
		config_file_parse_included(p, files.v[i]);
	config_free_words(&files);
	buf_free(&full);
}

/* config_file_first_fatal - err: the first fatal problem from index first on, and how many more there are */
static void
config_file_first_fatal(const struct config_problems *probs, size_t first,
    char *err, size_t errlen)
{
	size_t i;

	for (i = first; i < probs->n; i++)
		if (probs->v[i].fatal)
			break;
	if (i == probs->n)
		(void)snprintf(err, errlen, "configuration refused");
	else if (probs->n - first > 1)
		(void)snprintf(err, errlen, "%s (and %zu more errors)",
		    probs->v[i].text, probs->n - first - 1);
	else
		(void)snprintf(err, errlen, "%s", probs->v[i].text);
}

/* config_load_from - the general loader */
struct config *
config_load_from(const char *path, const char *text,
    const struct config_source *src, int flags,
    struct config_problems *probs, char *err, size_t errlen)
{
	struct config_problems own = { NULL, 0, 0 };
	struct config_parse p;
	struct buf copy = BUF_INIT;
	struct config *c;
	char ebuf[1024];
	size_t first;

	if (probs == NULL)
		probs = &own;
	first = probs->n;
	secret_cache_begin();	/* one walk of key_dir, not one a key */
	config_parse_begin(&p, path, src, flags, probs);
	if (text != NULL)
		buf_puts(&copy, text);
	if (text == NULL && config_file_text(&p, path, 0, &copy, ebuf,
	    sizeof(ebuf)) != 0) {
		p.name = NULL;		/* ebuf names the file */
		config_report(&p, NULL, "%s", ebuf);
	} else {
		buf_putc(&copy, '\0');
		p.c->main_text = xstrdup(copy.data);
		p.reuse_ok = src != NULL && src->prev != NULL
		    && src->prev->main_text != NULL
		    && strcmp(src->prev->main_text, copy.data) == 0;
		config_file_parse_text(&p, copy.data);
		config_file_end(&p);
	}
	buf_free(&copy);
	c = config_parse_finish(&p);
	secret_cache_end();
	if (c == NULL)
		config_file_first_fatal(probs, first, err, errlen);
	else if (errlen > 0)
		err[0] = '\0';
	config_problems_free(&own);
	return c;
}

/* config_load_string - parse a conf held in a string */
struct config *
config_load_string(const char *text, const char *name, char *err,
    size_t errlen)
{
	return config_load_from(name, text, NULL, 0, NULL, err, errlen);
}

/* config_load - read, parse and validate a conf file and load its keys */
struct config *
config_load(const char *path, char *err, size_t errlen)
{
	return config_load_from(path, NULL, NULL, 0, NULL, err, errlen);
}
