#!/usr/bin/env python3
"""Hand-built CSRs that openssl req will not make, with the standard library only.

  craft-csr.py OUT [--cn CN] [--dns V]... [--uri V]... [--email V]... [--key KIND]

Values take Python byte escapes ("good.internal\\x00.evil.com"); other bytes,
UTF-8 included, go in as they are. KIND is
  seed      an ordinary Ed25519 key (fixed seed): the control, signed as RFC 8032 says
  HEX       an Ed25519 public key of 32 bytes, small order; the signature is found
            by trying nonces until [k]A is the identity, so it verifies with no
            private key at all: what an attacker does
  rsa-e1    an RSA "key" with exponent 1: the signature is the padded digest itself
  rsa-even  an RSA "key" with exponent 65537 and an even modulus, no real signature:
            only a check of the key itself refuses it
The result is DER.
"""
import argparse
import codecs
import hashlib
import secrets

# --- DER --------------------------------------------------------------------
def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, 'big')
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body

def seq(*parts): return tlv(0x30, b''.join(parts))
def set_of(*parts): return tlv(0x31, b''.join(parts))
def integer(v): return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, 'big'))
def bits(b): return tlv(0x03, b'\0' + b)
def octets(b): return tlv(0x04, b)
def null(): return b'\x05\x00'

def oid(dotted):
    arcs = [int(a) for a in dotted.split('.')]
    out = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7f]
        a >>= 7
        while a:
            chunk.insert(0, 0x80 | (a & 0x7f))
            a >>= 7
        out += bytes(chunk)
    return tlv(0x06, out)

ED25519 = oid('1.3.101.112')

# --- Ed25519 (RFC 8032, affine, slow and simple) ----------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P

def add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)

def mul(k, pt):
    r = (0, 1)
    while k:
        if k & 1:
            r = add(r, pt)
        pt = add(pt, pt)
        k >>= 1
    return r

def decode(b):
    y = int.from_bytes(b, 'little') & ((1 << 255) - 1)
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    if (x * x - xx) % P:
        raise SystemExit('not a point')
    if x & 1 != b[31] >> 7:
        x = (P - x) % P
    return (x, y % P)

def encode(pt):
    return (pt[1] | (pt[0] & 1) << 255).to_bytes(32, 'little')

BY = 4 * pow(5, P - 2, P) % P
B = decode(BY.to_bytes(32, 'little'))

def h(*parts): return int.from_bytes(hashlib.sha512(b''.join(parts)).digest(), 'little')

def ed25519_signer(kind):
    if kind == 'seed':
        digest = hashlib.sha512(b'capstan e2e crafted csr').digest()
        a = int.from_bytes(digest[:32], 'little') & ~7 & ((1 << 254) - 1) | (1 << 254)
        pub = encode(mul(a, B))
        def sign(msg):
            r = h(digest[32:], msg) % L
            rb = encode(mul(r, B))
            return rb + ((r + h(rb, pub, msg) * a) % L).to_bytes(32, 'little')
        return pub, sign
    pub = bytes.fromhex(kind)
    point = decode(pub)
    def forge(msg):
        # [S]B = R + [k]A holds with R = [S]B whenever [k]A is the identity.
        while True:
            s = secrets.randbelow(L)
            rb = encode(mul(s, B))
            if mul(h(rb, pub, msg) % L, point) == (0, 1):
                return rb + s.to_bytes(32, 'little')
    return pub, forge

# --- RSA with e = 1, or with an even modulus ---------------------------------
def rsa_signer(kind):
    n = secrets.randbits(2048) | (1 << 2047)
    n = n & ~1 if kind == 'rsa-even' else n | 1
    e = 65537 if kind == 'rsa-even' else 1
    spki = seq(seq(oid('1.2.840.113549.1.1.1'), null()), bits(seq(integer(n), integer(e))))
    def sign(msg):
        info = seq(seq(oid('2.16.840.1.101.3.4.2.1'), null()), octets(hashlib.sha256(msg).digest()))
        em = b'\0\1' + b'\xff' * (256 - 3 - len(info)) + b'\0' + info
        return em   # em^1 mod n == em: a "signature" that needs no key
    return spki, seq(oid('1.2.840.113549.1.1.11'), null()), sign

# --- the request --------------------------------------------------------------
def value(s):
    return codecs.escape_decode(s.encode('utf-8', 'surrogateescape'))[0]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--cn')
    ap.add_argument('--dns', action='append', default=[])
    ap.add_argument('--uri', action='append', default=[])
    ap.add_argument('--email', action='append', default=[])
    ap.add_argument('--key', default='seed')
    a = ap.parse_args()

    subject = seq(set_of(seq(oid('2.5.4.3'), tlv(0x0c, value(a.cn))))) if a.cn else seq()
    names = [tlv(0x82, value(v)) for v in a.dns] + [tlv(0x86, value(v)) for v in a.uri] + \
        [tlv(0x81, value(v)) for v in a.email]
    attrs = b''
    if names:
        ext = seq(seq(oid('2.5.29.17'), octets(seq(*names))))
        attrs = seq(oid('1.2.840.113549.1.9.14'), set_of(ext))
    if a.key.startswith('rsa-'):
        spki, alg, sign = rsa_signer(a.key)
    else:
        pub, sign = ed25519_signer(a.key)
        spki, alg = seq(seq(ED25519), bits(pub)), seq(ED25519)
    info = seq(integer(0), subject, spki, tlv(0xa0, attrs))
    with open(a.out, 'wb') as f:
        f.write(seq(info, alg, bits(sign(info))))

main()
