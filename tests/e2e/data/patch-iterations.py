#!/usr/bin/env python3
"""patch-iterations.py IN OUT OLD NEW: rewrite every DER INTEGER equal to OLD
into NEW, re-encoding the lengths of everything around it. OCTET STRINGs whose
content is itself DER (a PKCS12's safes) are followed too, so an iteration
count inside the authenticated safe can be reached (the MAC then breaks:
give the password as a fifth argument
to leave the MAC's count and compute the MAC again, with HMAC-SHA256 as OpenSSL 3 writes it)."""
import hashlib
import hmac
import sys


def read_tlv(d, i):
    tag = d[i]; i += 1
    if tag & 0x1f == 0x1f:
        raise ValueError('long tag')
    n = d[i]; i += 1
    if n & 0x80:
        k = n & 0x7f
        if k == 0 or k > 4:
            raise ValueError('length')
        n = int.from_bytes(d[i:i + k], 'big'); i += k
    if i + n > len(d):
        raise ValueError('truncated')
    return tag, d[i:i + n], i + n


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def parse_all(d):
    out, i = [], 0
    while i < len(d):
        tag, val, i = read_tlv(d, i)
        out.append((tag, val))
    return out


def patch(d, old, new):
    out = b''
    for tag, val in parse_all(d):
        if tag & 0x20:
            val = patch(val, old, new)
        elif tag == 0x02 and int.from_bytes(val, 'big', signed=True) == old:
            val = new.to_bytes((new.bit_length() + 8) // 8, 'big', signed=True)
        elif tag == 0x04:
            try:
                val = patch(val, old, new)
            except (IndexError, ValueError):
                pass
        out += bytes([tag]) + enc_len(len(val)) + val
    return out


def tlv(tag, val):
    return bytes([tag]) + enc_len(len(val)) + val


def p12_kdf(password, salt, iters, n=32, u=32, v=64):
    """RFC 7292 B.2 with SHA-256, ID 3 (MAC key)."""
    def fill(b):
        if not b:
            return b''
        m = v * ((len(b) + v - 1) // v)
        return (b * (m // len(b) + 1))[:m]
    pw = (password + '\0').encode('utf-16-be')
    i_ = fill(salt) + fill(pw)
    out = b''
    while len(out) < n:
        a = hashlib.sha256(bytes([3]) * v + i_).digest()
        for _ in range(iters - 1):
            a = hashlib.sha256(a).digest()
        out += a
        b = int.from_bytes(fill(a), 'big')
        i_ = b''.join(((int.from_bytes(i_[j:j + v], 'big') + b + 1) % (1 << (8 * v))).to_bytes(v, 'big')
                      for j in range(0, len(i_), v))
    return out[:n]


def remac(pfx, password, old, new):
    """Patches the safes only, and makes a new HMAC-SHA256 over them (the
    MAC's own count kept), so the file is whole again."""
    (tag, body), = parse_all(pfx)
    version, auth, mac = parse_all(body)
    auth = (auth[0], patch(auth[1], old, new))
    _, (_, explicit) = parse_all(auth[1])      # ContentInfo: data, [0] content
    (_, content), = parse_all(explicit)
    digest_info, salt, it = parse_all(mac[1])
    key = p12_kdf(password, salt[1], int.from_bytes(it[1], 'big'))
    alg = parse_all(digest_info[1])[0]
    digest = hmac.new(key, content, hashlib.sha256).digest()
    new_mac = tlv(0x30, tlv(0x30, tlv(alg[0], alg[1]) + tlv(0x04, digest)) + tlv(0x04, salt[1]) + tlv(0x02, it[1]))
    return tlv(tag, tlv(*version) + tlv(*auth) + new_mac)


src = open(sys.argv[1], 'rb').read()
old, new = int(sys.argv[3]), int(sys.argv[4])
out = remac(src, sys.argv[5], old, new) if len(sys.argv) > 5 else patch(src, old, new)
open(sys.argv[2], 'wb').write(out)
