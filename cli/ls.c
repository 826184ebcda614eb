/* SPDX-License-Identifier: MIT */
/* smr ls: the channels of a directory (their NAME.smr state files), each
 * with its smr_channel_stat summary, as a table or JSON.  Read-only:
 * smr_channel_stat opens the files read-only and creates nothing. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SHM_DIR "/dev/shm"

static const char ls_help[] =
    "Usage: smr ls [OPTIONS] [DIR]\n"
    "List the channels in DIR (default " SHM_DIR "): every NAME.smr state\n"
    "file, sorted by name, with its current version, payload size, reader\n"
    "slots in use (of the maximum) and writer (pid, alive or not).  The\n"
    "CHANNEL column is what the other commands take: NAME in " SHM_DIR ",\n"
    "DIR/NAME elsewhere.  A channel that cannot be inspected is listed with\n"
    "its error.  Nothing is created or changed.\n"
    "\n"
    "Options:\n"
    "  --json       a JSON array, one object per channel: channel, path,\n"
    "               version, size, buffers, readers, readers_max, writer\n"
    "               {pid, alive}; or channel, path and error\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: 0 listed (also when a channel could not be inspected, or\n"
    "there is none); 2 usage; 4 DIR cannot be read; 6 system.\n";

static int is_state_file(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 4 && strcmp(e->d_name + n - 4, ".smr") == 0 &&
         (e->d_type == DT_REG || e->d_type == DT_UNKNOWN ||
          e->d_type == DT_LNK);
}

/* "DIR" without its trailing slashes is /dev/shm. */
static bool is_shm(const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  return n == strlen(SHM_DIR) && strncmp(dir, SHM_DIR, n) == 0;
}

/* One channel: its name as the commands take it, the stat or the error. */
struct ls_entry {
  char *channel, *path;
  int error;
  char errtext[640];
  struct smr_channel_stat st;
};

static void ls_text(const struct ls_entry *e) {
  if (e->error) {
    printf("%-24s error: %s\n", e->channel, e->errtext);
    return;
  }
  char readers[32], writer[48];
  snprintf(readers, sizeof readers, "%u/%u", e->st.readers, e->st.readers_max);
  if (e->st.writer_pid == 0)
    snprintf(writer, sizeof writer, "-");
  else
    snprintf(writer, sizeof writer, "%s (pid %d)",
             e->st.writer_alive ? "alive" : "exited", e->st.writer_pid);
  printf("%-24s %8" PRIu64 " %12" PRIu64 " %9s  %s\n", e->channel,
         e->st.version, e->st.size, readers, writer);
}

static void ls_json(const struct ls_entry *e, bool first) {
  printf("%s\n  {", first ? "" : ",");
  json_channel(stdout, e->channel, ", ");
  fputs(", \"path\": ", stdout);
  json_str(stdout, e->path, strlen(e->path));
  if (e->error) {
    fputs(", \"error\": ", stdout);
    json_str(stdout, e->errtext, strlen(e->errtext));
    fputs("}", stdout);
    return;
  }
  printf(", \"version\": %" PRIu64 ", \"size\": %" PRIu64
         ", \"buffers\": %u, \"readers\": %u, \"readers_max\": %u"
         ", \"writer\": {\"pid\": %d, \"alive\": %s}}",
         e->st.version, e->st.size, e->st.buffers, e->st.readers,
         e->st.readers_max, e->st.writer_pid,
         e->st.writer_alive ? "true" : "false");
}

/* Fill e for the state file `name` in dir: XS_OK or XS_SYSTEM. */
static int ls_stat(const char *dir, const char *name, struct ls_entry *e) {
  memset(e, 0, sizeof *e);
  size_t n = strlen(name) - 4; /* without ".smr" */
  bool shm = is_shm(dir);
  const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
  if (asprintf(&e->path, "%s%s%s", dir, sep, name) < 0) {
    e->path = NULL;
    return XS_SYSTEM;
  }
  int k = shm ? asprintf(&e->channel, "%.*s", (int)n, name)
              : asprintf(&e->channel, "%s%s%.*s", dir, sep, (int)n, name);
  if (k < 0) {
    e->channel = NULL;
    return XS_SYSTEM;
  }
  e->error = smr_channel_stat(e->channel, 0, &e->st, NULL, 0, NULL);
  if (e->error)
    snprintf(e->errtext, sizeof e->errtext, "%s",
             chan_strerror(e->error, false));
  return XS_OK;
}

/* List the n state files of dir (names). */
static int ls_list(const char *dir, struct dirent **names, int n, bool json) {
  int x = XS_OK;
  if (json)
    fputs("[", stdout);
  else
    printf("%-24s %8s %12s %9s  %s\n", "CHANNEL", "VERSION", "SIZE", "READERS",
           "WRITER");
  for (int i = 0; i < n && x == XS_OK; i++) {
    struct ls_entry e;
    x = ls_stat(dir, names[i]->d_name, &e);
    if (x != XS_OK)
      msg("out of memory");
    else if (json)
      ls_json(&e, i == 0);
    else
      ls_text(&e);
    free(e.channel);
    free(e.path);
  }
  if (json)
    fputs(n ? "\n]\n" : "]\n", stdout);
  int f = flush_stdout();
  return x == XS_OK ? f : x;
}

int cmd_ls(int argc, char **argv) {
  bool json;
  int x = flag_option(argc, argv, "json", 0, ls_help, &json);
  if (x >= 0)
    return x;
  if (argc - optind > 1)
    return usage_error("expected at most one DIR");
  const char *dir = argc > optind ? argv[optind] : SHM_DIR;
  if (!dir[0])
    return usage_error("DIR is empty");
  struct dirent **names;
  int n = scandir(dir, &names, is_state_file, alphasort);
  if (n < 0) {
    msg("cannot list '%s': %s", dir, strerror(errno));
    return XS_CHANNEL;
  }
  x = ls_list(dir, names, n, json);
  for (int i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return x;
}
