/* SPDX-License-Identifier: MIT */
/* libsmr umbrella header: every public module. */
#ifndef SMR_H
#define SMR_H

#include "smr/channel.h"
#include "smr/collector.h"
#include "smr/common.h"
#include "smr/epoch.h"
#include "smr/rc.h"
#include "smr/swap.h"
#include "smr/table.h"
#include "smr/version.h"

#endif /* SMR_H */
