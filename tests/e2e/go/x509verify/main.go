// x509verify: Go's crypto/x509 as a third verifier for the end-to-end tests
// (nameConstraints above all). Standard library only, so it builds offline.
//
//	x509verify ROOTS.pem INTERMEDIATES.pem LEAF.pem [DNSNAME]
//
// Prints "ok" and exits 0 when LEAF chains to ROOTS through INTERMEDIATES,
// else prints Go's error and exits 1 (2 for unreadable input).
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs, nil
}

func pool(path string) (*x509.CertPool, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p, nil
}

func main() {
	if len(os.Args) < 4 || len(os.Args) > 5 {
		fmt.Fprintln(os.Stderr, "usage: x509verify ROOTS.pem INTERMEDIATES.pem LEAF.pem [DNSNAME]")
		os.Exit(2)
	}
	roots, err := pool(os.Args[1])
	if err == nil {
		var inter *x509.CertPool
		if inter, err = pool(os.Args[2]); err == nil {
			var leaf []*x509.Certificate
			if leaf, err = readCerts(os.Args[3]); err == nil {
				opts := x509.VerifyOptions{Roots: roots, Intermediates: inter,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
				if len(os.Args) == 5 {
					opts.DNSName = os.Args[4]
				}
				if _, err = leaf[0].Verify(opts); err != nil {
					fmt.Println(err)
					os.Exit(1)
				}
				fmt.Println("ok")
				return
			}
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}
