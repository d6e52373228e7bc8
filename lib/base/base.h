/*
 * The base layer's interface to the layers above: the context and its errors
 * (ctx.h), buffers (buffer.h), strings and string lists (util.h). The base
 * depends on libc only; every other layer may call it, it calls none of them.
 *
 * Layers, bottom to top: base; crypto and store (neither calls the other);
 * ca (issuance, lifecycle, revocation, the home); deploy (configuration,
 * templates, bundles, apply, the deploy ledger). A layer calls only layers
 * below it, through their one header; t0900-tree.sh checks the object files.
 */
#ifndef CAPSTAN_LIB_BASE_H
#define CAPSTAN_LIB_BASE_H

#include "buffer.h"
#include "ctx.h"
#include "netmatch.h"
#include "util.h"

#endif
