/* SPDX-License-Identifier: MIT */
/* The replay harnesses' command line (fuzz_channel_replay, fuzz_table_replay):
 * run `replay` once on each FILE, and on each file of each DIR in name
 * order (dot files skipped).  Returns main's exit status. */
#ifndef SMR_FUZZ_REPLAY_H
#define SMR_FUZZ_REPLAY_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The whole of file `path` in an exact-size buffer (so reads past the
 * input are caught); *n its length.  Exits on an error. */
static unsigned char *fz_read_file(const char *prog, const char *path,
                                   size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
    exit(1);
  }
  unsigned char *buf = NULL, *in;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? 2 * cap : 65536;
      unsigned char *nb = realloc(buf, cap);
      if (!nb)
        goto oom;
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  fclose(f);
  in = malloc(len ? len : 1);
  if (!in)
    goto oom;
  if (len)
    memcpy(in, buf, len);
  free(buf);
  *n = len;
  return in;
oom:
  fprintf(stderr, "%s: out of memory\n", prog);
  exit(1);
}

static int fz_skip_dots(const struct dirent *de) {
  return de->d_name[0] != '.';
}

static int fz_replay_args(const char *prog, int argc, char **argv,
                          void (*replay)(const char *path)) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", prog);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      fprintf(stderr, "%s: %s: %s\n", prog, argv[i], strerror(errno));
      return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
      replay(argv[i]);
      continue;
    }
    struct dirent **list;
    int n = scandir(argv[i], &list, fz_skip_dots, alphasort);
    if (n < 0) {
      fprintf(stderr, "%s: %s: %s\n", prog, argv[i], strerror(errno));
      return 1;
    }
    for (int j = 0; j < n; j++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], list[j]->d_name);
      replay(path);
      free(list[j]);
    }
    free(list);
  }
  return 0;
}

#endif /* SMR_FUZZ_REPLAY_H */
