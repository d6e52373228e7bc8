/*
 * The crypto layer's interface to the layers above: keys and their sealing
 * (keys.h), keyed digests (mac.h), X.509 building and reading (x509.h), and
 * the OpenSSL library context, random bytes and digests (ossl.h). These name
 * no OpenSSL type: the files of this layer are the only ones that include
 * OpenSSL, and what they share in OpenSSL's terms stays in crypto_internal.h.
 */
#ifndef CAPSTAN_LIB_CRYPTO_H
#define CAPSTAN_LIB_CRYPTO_H

#include "keys.h"
#include "mac.h"
#include "ocsp.h"
#include "ossl.h"
#include "pkcs11.h"
#include "tls.h"
#include "x509.h"

#endif
