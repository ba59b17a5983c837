/*
 * rua_cmd.h - authmilter-report's commands for the aggregate reports
 * customers receive (import, summary, html); see rua_cmd.c and
 * authmilter-report(1). Each returns the tool's exit status: 0 done, 1 a
 * file or the store failed, 2 usage.
 */
#ifndef AUTHMILTER_RUA_CMD_H
#define AUTHMILTER_RUA_CMD_H

#include "policy/config.h"
#include "store/history.h"

/* rua_cmd_import - import [--max-size N] FILE|DIR|- ... (none: standard input) */
int rua_cmd_import(struct history_store *s, int argc, char **argv);
/*
 * rua_cmd_summary - summary [--domain D] [--since T] [--json] [--resolve]
 * [--min-pass P] [--min-days N] [--min-messages N] (no domain: each in
 * turn); with html nonzero,
 * html --domain D -o FILE and the same options but --json. c gives the
 * DNS servers for --resolve.
 */
int rua_cmd_summary(struct history_store *s, const struct config *c,
    int argc, char **argv, int html);

#endif
