/* The in-process limit: what stock OpenSSL 3.0 calls do per certificate in one
 * process (EC P-256 key, build, sign, PEM), with X509_set_pubkey ("naive") and
 * with the public key set from encoded-pub-key ("fast"). Usage: inproc N. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void set_pubkey_fast(X509 *x, EVP_PKEY *k)
{
	unsigned char *bits;
	size_t n = 0;

	EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0, &n);
	bits = OPENSSL_malloc(n);
	EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, bits, n, &n);
	X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
		OBJ_nid2obj(NID_X9_62_prime256v1), bits, (int)n);
}

static double run(int n, int fast, EVP_PKEY *ca, X509 *ca_cert)
{
	double start = now();

	for (int i = 0; i < n; i++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		X509 *x = X509_new();
		BIO *out = BIO_new(BIO_s_mem());
		ASN1_INTEGER_set(X509_get_serialNumber(x), i + 1);
		X509_set_version(x, X509_VERSION_3);
		X509_gmtime_adj(X509_getm_notBefore(x), 0);
		X509_gmtime_adj(X509_getm_notAfter(x), 90L * 86400);
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (unsigned char *)"svc", -1, -1, 0);
		X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
		if (fast)
			set_pubkey_fast(x, k);
		else
			X509_set_pubkey(x, k);
		X509_sign(x, ca, EVP_sha256());
		PEM_write_bio_X509(out, x);
		PEM_write_bio_PrivateKey(out, k, NULL, NULL, 0, NULL, NULL);
		BIO_free(out);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	return n / (now() - start);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2000;
	EVP_PKEY *ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca_cert = X509_new();

	X509_NAME_add_entry_by_txt(X509_get_subject_name(ca_cert), "CN", MBSTRING_ASC, (unsigned char *)"ca", -1, -1, 0);
	printf("%.0f %.0f\n", run(n, 0, ca, ca_cert), run(n, 1, ca, ca_cert));
	return 0;
}
