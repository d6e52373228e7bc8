/*
 * The CA layer's interface to the deploy layer: audit rows written in the
 * caller's transaction (audit.h) and the SAN checks of an issuance request
 * (request.h). The rest of the engine is the public API (include/capstan/).
 */
#ifndef CAPSTAN_LIB_CA_H
#define CAPSTAN_LIB_CA_H

#include "audit.h"
#include "request.h"

#endif
