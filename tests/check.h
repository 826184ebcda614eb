/* SPDX-License-Identifier: MIT */
/* Minimal test helpers: CHECK aborts the test with file:line on failure. */
#ifndef SMR_TEST_CHECK_H
#define SMR_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

#define CHECK_EQ(a, b)                                                         \
  do {                                                                         \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);            \
    if (check_a_ != check_b_) {                                                \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n",      \
              __FILE__, __LINE__, #a, check_a_, #b, check_b_);                 \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Seconds a stress/torture test runs: SMR_TEST_SECONDS or the default. */
static inline double test_seconds(double dflt) {
  const char *s = getenv("SMR_TEST_SECONDS");
  return s ? atof(s) : dflt;
}

/* Sections chosen on the command line: true if `section` is among the
 * arguments, or there are none (run all). */
static inline int test_section(int argc, char **argv, const char *section) {
  if (argc < 2)
    return 1;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], section) == 0)
      return 1;
  return 0;
}

/* A part of a test program that runs one part per ctest entry. */
struct test_part {
  const char *name;
  void (*fn)(void);
};

/* Run the part called name (argv[1], usually), or every part when name is
 * NULL: 0, or 2 with a message when no part has that name. */
static inline int test_run_part(const char *name, const struct test_part *parts,
                                size_t n) {
  int ran = 0;
  for (size_t i = 0; i < n; i++)
    if (!name || strcmp(name, parts[i].name) == 0) {
      parts[i].fn();
      ran++;
    }
  if (ran == 0) {
    fprintf(stderr, "unknown part %s\n", name);
    return 2;
  }
  return 0;
}

#define TEST_RUN_PART(name, parts)                                             \
  test_run_part(name, parts, sizeof(parts) / sizeof((parts)[0]))

#endif
