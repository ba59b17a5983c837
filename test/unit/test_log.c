/*
 * test_log.c - the lines log.c writes: stderr and syslog both carry the
 * "[pid/tid]" thread tag (of the thread that logged), the queue id and the
 * text; the level filter holds; an out-of-memory abort in xalloc.c reaches
 * whichever destination the logs go to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/edit.h"
#include "base/log.h"
#include "base/xalloc.h"

static char captured[4096];	/* the last line the syslog hook saw */
static int captured_level = -1;
static int captured_count;
static int capture_fd = -1;	/* >= 0: the hook also writes lines here */

/* capture_syslog - the syslog hook: keep the line (and copy it to capture_fd) */
static void
capture_syslog(int level, const char *line)
{
	captured_level = level;
	captured_count++;
	(void)snprintf(captured, sizeof(captured), "%s", line);
	if (capture_fd >= 0 && write(capture_fd, line, strlen(line)) < 0)
		abort();
}

/* thread_tag - "[pid/tid]" of the calling thread */
static void
thread_tag(char *tag, size_t size)
{
	(void)snprintf(tag, size, "[%ld/%ld]", (long)getpid(),
	    (long)syscall(SYS_gettid));
}

/* read_all - read fd to end into buf (NUL-terminated) */
static void
read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/* stderr_capture_begin - point stderr at a pipe; returns the saved stderr */
static int
stderr_capture_begin(int p[2])
{
	int saved = dup(STDERR_FILENO);

	assert_int_equal(pipe(p), 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	return saved;
}

/* stderr_capture_end - restore stderr and read what was written */
static void
stderr_capture_end(int saved, int p[2], char *buf, size_t size)
{
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	read_all(p[0], buf, size);
	close(p[0]);
}

struct line_case {
	const char *name;
	enum log_dest dest;
	int level;
	const char *qid;		/* NULL: a line without a message */
	const char *text;
	const char *want;		/* what follows the thread tag */
};

static const struct line_case line_cases[] = {
	{ "stderr_info_with_qid", LOG_DEST_STDERR, LOG_INFO, "4XyZ1", "signed",
	  "]: info: 4XyZ1: signed\n" },
	{ "stderr_err_without_qid", LOG_DEST_STDERR, LOG_ERR, NULL, "no keys",
	  "]: err: no keys\n" },
	{ "syslog_info_with_qid", LOG_DEST_SYSLOG, LOG_INFO, "4XyZ1", "signed",
	  " 4XyZ1: signed" },
	{ "syslog_warning_without_qid", LOG_DEST_SYSLOG, LOG_WARNING, NULL,
	  "reload failed", " reload failed" },
};

/* expect_line - the line is prefix + "[pid/tid" (of this thread) + want */
static void
expect_line(const char *name, const char *line, enum log_dest dest,
    const char *want)
{
	char tag[64], expect[512];

	thread_tag(tag, sizeof(tag));
	tag[strlen(tag) - 1] = '\0';	/* want supplies the closing ']' */
	(void)snprintf(expect, sizeof(expect), "%s%s%s%s",
	    dest == LOG_DEST_STDERR ? "authmilter" : "", tag,
	    dest == LOG_DEST_STDERR ? "" : "]", want);
	if (strcmp(line, expect) != 0)
		fail_msg("%s: line \"%s\", want \"%s\"", name, line, expect);
}

/* log_lines_carry_thread_tag - each destination's line, through log_msg */
static void
log_lines_carry_thread_tag(void **state)
{
	char out[4096];
	size_t i;
	int p[2], saved;

	(void)state;
	log_set_syslog_hook(capture_syslog);
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];

		log_init(c->dest, LOG_MAIL, LOG_DEBUG);
		captured[0] = '\0';
		captured_level = -1;
		saved = stderr_capture_begin(p);
		log_msg(c->level, c->qid, "%s", c->text);
		stderr_capture_end(saved, p, out, sizeof(out));
		if (c->dest == LOG_DEST_SYSLOG) {
			assert_string_equal(out, "");
			assert_int_equal(captured_level, c->level);
			expect_line(c->name, captured, c->dest, c->want);
		} else {
			assert_string_equal(captured, "");
			expect_line(c->name, out, c->dest, c->want);
		}
	}
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_INFO);
	log_set_syslog_hook(NULL);
}

/* logger_thread - log one syslog line and keep this thread's tag */
static void *
logger_thread(void *arg)
{
	thread_tag(arg, 64);
	log_info("Q2", "from a worker");
	return NULL;
}

/* log_syslog_tag_names_the_logging_thread - not the thread that set logging up */
static void
log_syslog_tag_names_the_logging_thread(void **state)
{
	char tag[64], mine[64], want[160];
	pthread_t t;

	(void)state;
	log_set_syslog_hook(capture_syslog);
	log_init(LOG_DEST_SYSLOG, LOG_MAIL, LOG_INFO);
	assert_int_equal(pthread_create(&t, NULL, logger_thread, tag), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	thread_tag(mine, sizeof(mine));
	assert_string_not_equal(tag, mine);
	(void)snprintf(want, sizeof(want), "%s Q2: from a worker", tag);
	assert_string_equal(captured, want);
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_INFO);
	log_set_syslog_hook(NULL);
}

/* log_level_filters_lines - below the level nothing reaches syslog */
static void
log_level_filters_lines(void **state)
{
	(void)state;
	log_set_syslog_hook(capture_syslog);
	log_init(LOG_DEST_SYSLOG, LOG_MAIL, LOG_NOTICE);
	captured_count = 0;
	log_info("Q3", "hidden");
	log_debug("Q3", "hidden");
	assert_int_equal(captured_count, 0);
	log_notice(NULL, "shown");
	assert_int_equal(captured_count, 1);
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_INFO);
	log_set_syslog_hook(NULL);
}

/* log_format_truncates_keeping_newline - a long stderr line still ends in "\n" */
static void
log_format_truncates_keeping_newline(void **state)
{
	char line[40], text[200];
	size_t n;

	(void)state;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	n = log_format_line(line, sizeof(line), LOG_DEST_STDERR, LOG_INFO,
	    "Q4", text);
	assert_int_equal(n, sizeof(line) - 1);
	assert_int_equal(strlen(line), n);
	assert_int_equal(line[n - 1], '\n');
	n = log_format_line(line, sizeof(line), LOG_DEST_SYSLOG, LOG_INFO,
	    "Q4", text);
	assert_int_equal(n, sizeof(line) - 1);
	assert_int_equal(line[0], '[');
	assert_int_equal(line[n - 1], 'x');
}

/* oom_child - in a child: log to dest, then die of an impossible allocation */
static void
oom_child(enum log_dest dest, int fd)
{
	if (dest == LOG_DEST_SYSLOG) {
		capture_fd = fd;
		log_set_syslog_hook(capture_syslog);
	} else if (dup2(fd, STDERR_FILENO) < 0) {
		_exit(2);
	}
	log_init(dest, LOG_MAIL, LOG_ERR);
	signal(SIGABRT, SIG_DFL);	/* cmocka catches it to report a failure */
	/* an overflowing size dies without asking malloc (which ASan would trap) */
	(void)xreallocarray(NULL, SIZE_MAX, 2);
	_exit(3);
}

/* xalloc_oom_reaches_log_destination - the abort's line goes where the logs go */
static void
xalloc_oom_reaches_log_destination(void **state)
{
	static const enum log_dest dests[] = { LOG_DEST_SYSLOG, LOG_DEST_STDERR };
	char out[1024], want[128];
	size_t i;
	pid_t pid;
	int p[2], st;

	(void)state;
	for (i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
		assert_int_equal(pipe(p), 0);
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			oom_child(dests[i], p[1]);
		}
		close(p[1]);
		read_all(p[0], out, sizeof(out));
		close(p[0]);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
		/* the child's one thread: tid == pid */
		(void)snprintf(want, sizeof(want), "%s[%ld/%ld]%s out of memory (",
		    dests[i] == LOG_DEST_STDERR ? "authmilter" : "", (long)pid,
		    (long)pid, dests[i] == LOG_DEST_STDERR ? ": err:" : "");
		if (strncmp(out, want, strlen(want)) != 0)
			fail_msg("dest %d: \"%s\", want it to start \"%s\"",
			    (int)dests[i], out, want);
	}
}

/*
 * edit_note_formats_only_what_is_shown - log_wants follows the level, and
 * an edit's note (logged once the edit is made) is formatted only at a
 * level shown: at warning, the info note a signature carries is none
 */
static void
edit_note_formats_only_what_is_shown(void **state)
{
	struct edit_list l = { 0 };
	struct edit *e;

	(void)state;
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_WARNING);
	assert_true(log_wants(LOG_ERR));
	assert_true(log_wants(LOG_WARNING));
	assert_false(log_wants(LOG_INFO));
	e = edit_add(&l, EDIT_HEADER_INSERT, "DKIM-Signature", "v=1");
	edit_note(e, LOG_INFO, "signed d=%s", "example.com");
	assert_null(e->note);
	edit_note(e, LOG_WARNING, "kept %d", 1);
	assert_non_null(e->note);
	assert_string_equal(e->note, "kept 1");
	assert_int_equal(e->note_level, LOG_WARNING);
	log_set_level(LOG_INFO);
	assert_true(log_wants(LOG_INFO));
	edit_note(e, LOG_INFO, "signed d=%s", "example.com");
	assert_string_equal(e->note, "signed d=example.com");
	edit_list_free(&l);
	log_init(LOG_DEST_STDERR, LOG_MAIL, LOG_INFO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(log_lines_carry_thread_tag),
		cmocka_unit_test(log_syslog_tag_names_the_logging_thread),
		cmocka_unit_test(log_level_filters_lines),
		cmocka_unit_test(log_format_truncates_keeping_newline),
		cmocka_unit_test(xalloc_oom_reaches_log_destination),
		cmocka_unit_test(edit_note_formats_only_what_is_shown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
