/*
 * capstan — a certificate-authority toolkit. This header includes the whole
 * public API; see each header for its module.
 */
#ifndef CAPSTAN_H
#define CAPSTAN_H

#include "common.h"
#include "parse.h"
#include "policy.h"
#include "home.h"
#include "cert.h"
#include "ca.h"
#include "import.h"
#include "lifecycle.h"
#include "convert.h"
#include "template.h"
#include "config.h"
#include "bundle.h"
#include "deploy.h"
#include "apply.h"
#include "audit.h"
#include "file.h"
#include "check.h"
#include "lint.h"
#include "inventory.h"
#include "api.h"
#include "ocsp.h"
#include "serve.h"
#include "fetch.h"

#endif
