/* SPDX-License-Identifier: MIT */
/* Consumer of an installed libsmr: built by .ci/run against
 * `cmake --install` output through find_package(smr) and pkg-config. */
#include <smr.h>
#include <stdio.h>

int main(void) {
  smr_swap *c;
  smr_swap_reader *r;
  smr_swap_guard g;
  int x = 7;
  if (smr_swap_create(&x, NULL, NULL, &c) || smr_swap_reader_create(c, &r))
    return 1;
  int v = *(const int *)smr_swap_read(r, &g);
  smr_swap_guard_release(&g);
  smr_swap_reader_destroy(r);
  smr_swap_destroy(c);
  printf("installed libsmr %s: read %d\n", smr_version_string(), v);
  return v != 7 || smr_version() != SMR_VERSION_HEX;
}
