/* SPDX-License-Identifier: MIT */
/* smr: publish, read and inspect libsmr channels that carry tables
 * (smr/channel.h, smr/table.h) from the command line: main, its help and
 * the dispatch to the subcommands.  docs/smr.1 is the manual; cli.h lists
 * the pieces. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "smr/version.h"

#ifndef SMR_TOOL_VERSION
#define SMR_TOOL_VERSION "unknown"
#endif

static const char main_help[] =
    "Usage: smr COMMAND [OPTIONS] ARGS...\n"
    "Publish key -> value tables through libsmr channels and read them from\n"
    "other processes.\n"
    "\n"
    "Commands:\n"
    "  publish CHANNEL FILE   build a table from a TSV or CSV file and "
    "publish\n"
    "                         it (--watch: again whenever the file changes)\n"
    "  get CHANNEL KEY...     print each key's value, one per line (--json,\n"
    "                         -0; KEY - reads the keys from stdin)\n"
    "  dump CHANNEL           print the table as TSV (or --csv)\n"
    "  stat CHANNEL           version, buffers, readers, writer (--json)\n"
    "  watch CHANNEL          print a line per new version (--json)\n"
    "  bench CHANNEL          look up random keys from N processes\n"
    "  ls [DIR]               list the channels in DIR (default /dev/shm)\n"
    "  rm CHANNEL...          remove channels (refused while a writer runs)\n"
    "  help [COMMAND]         this help, or a command's (smr COMMAND --help)\n"
    "\n"
    "A CHANNEL without '/' lives in /dev/shm; otherwise it is a path prefix\n"
    "(CHANNEL.smr, CHANNEL.smr-data-*, ...).\n"
    "\n"
    "Options:\n"
    "  -h, --help       this help\n"
    "  -V, --version    the versions of smr and of libsmr\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  not found: a key is missing (get), nothing is published yet,\n"
    "     watch --timeout expired, or no such channel (rm)\n"
    "  2  usage error\n"
    "  3  input file error (publish: cannot read it, or a bad row)\n"
    "  4  channel error (cannot open, read, publish or remove, or a payload\n"
    "     whose checksum does not match; the message gives the system error\n"
    "     and the path; rm: a live writer; ls: DIR cannot be read)\n"
    "  5  the payload is not a table (or dump cannot print it as TSV)\n"
    "  6  system error (memory, fork, signals, inotify, writing the output)\n"
    "\n"
    "See smr(1).\n";

struct command {
  const char *name;
  int (*fn)(int, char **);
};

static const struct command commands[] = {
    {"publish", cmd_publish}, {"get", cmd_get},     {"dump", cmd_dump},
    {"stat", cmd_stat},       {"watch", cmd_watch}, {"bench", cmd_bench},
    {"ls", cmd_ls},           {"rm", cmd_rm},
};

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static char cmd_buf[64];

static int run(const struct command *c, int argc, char **argv) {
  snprintf(cmd_buf, sizeof cmd_buf, "smr %s", c->name);
  tool_cmd = cmd_buf;
  optind = 0; /* GNU: start a fresh scan */
  opterr = 0;
  return c->fn(argc, argv);
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage_error("no command given");
  const char *a = argv[1];
  if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
    return print_text(main_help);
  if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
    printf("smr %s (libsmr %s)\n", SMR_TOOL_VERSION, smr_version_string());
    return flush_stdout();
  }
  if (strcmp(a, "help") == 0) {
    if (argc < 3)
      return print_text(main_help);
    const struct command *c = find_command(argv[2]);
    if (!c)
      return usage_error("no command '%s'", argv[2]);
    static char help_opt[] = "--help";
    char *hargv[] = {argv[2], help_opt, NULL};
    return run(c, 2, hargv);
  }
  if (a[0] == '-')
    return usage_error("unknown option '%s' (a command comes first)", a);
  const struct command *c = find_command(a);
  if (!c)
    return usage_error("no command '%s'", a);
  return run(c, argc - 1, argv + 1);
}
