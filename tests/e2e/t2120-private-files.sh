#!/usr/bin/env bash
# What capstan trusts must be private to the user running it. A home or an
# inventory file another user can write (mode, or owner) is refused before a
# page is read, naming the path, its mode and owner and the chmod/chown that
# fixes it, and nothing is changed; one others can only read is used with a
# warning. A passphrase or password file others can read or write, or that
# another user owns, is refused. The -wal and -shm are 0600, whatever the
# caller's umask. (On PostgreSQL the inventory is no file: the home's checks
# hold there, the inventory file's are skipped, said why.)
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP files of another uid need root (chown)"; exit 0; }
H=$CAPSTAN_HOME
DB=$H/capstan.db
cap init --env dev >/dev/null || exit 1
modes() { stat -c '%a %U' "$@" | tr '\n' ' '; }
nofile="the inventory is a PostgreSQL database, no file"

# The attack: a world-writable home and database; another user plants a root.
chmod 711 "$T"
chmod 777 "$H"
plant=(setpriv --reuid=nobody --regid=nogroup --clear-groups sqlite3 "$DB")
on_pg && plant=(db_sql) || chmod 666 "$DB"
"${plant[@]}" \
	"INSERT INTO certs (env_id, kind, name, serial, issuer_id, key_id, profile, status, subject, issuer, sans,
	 service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, created_at)
	 SELECT env_id, kind, 'planted', serial || '00', NULL, NULL, profile, status, subject, issuer, sans,
	 service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, created_at
	 FROM certs WHERE kind = 'root'"
is "(another user could write the inventory)" "$(db_sql "SELECT count(*) FROM certs WHERE name = 'planted'")" 1
refuses "trust from a home others can write is refused, the fix named" 1 \
	"home '$H' is writable by its group and others: mode 0777, owner root \(uid 0\); .*fix: chmod 700 '$H'" \
	"$CAPSTAN" trust --env dev --out "$T/trust.pem"
check_fails "and no trust bundle was written" test -e "$T/trust.pem"
if on_pg; then
	is "and the modes are as they were" "$(modes "$H")" "777 root "
else
	is "and the modes are as they were" "$(modes "$H" "$DB")" "777 root 666 root "
fi
db_sql "DELETE FROM certs WHERE name = 'planted'"

chmod 700 "$H"
if on_pg; then
	skip "a database others can write is refused" "$nofile"
	skip "and so is one its group can write" "$nofile"
	check "after chmod 700 and chmod 600 it is used again" "$CAPSTAN" list
	skip "a database owned by another uid is refused" "$nofile"
else
refuses "a database others can write is refused" 1 \
	"inventory file '$DB' is writable by its group and others: mode 0666, .*fix: chmod 600 '$DB'" \
	"$CAPSTAN" list
refuses "and so is one its group can write" 1 "is writable by its group: mode 0620" \
	sh -c "chmod 620 '$DB' && exec '$CAPSTAN' --passphrase-file '$PASS' issue --env dev --profile server --cn a.internal"
chmod 600 "$DB"
check "after chmod 700 and chmod 600 it is used again" "$CAPSTAN" list

chown nobody "$DB"
refuses "a database owned by another uid is refused" 1 \
	"inventory file '$DB' is owned by nobody \(uid 65534\), not by root \(uid 0\) who runs capstan: mode 0600; .*fix: chown root '$DB'" \
	"$CAPSTAN" list
chown root "$DB"
fi
chown nobody "$H"
refuses "and a home owned by another uid" 1 "home '$H' is owned by nobody .*fix: chown root '$H'" "$CAPSTAN" list
chown root "$H"
# (Not through refuses: its sqlite3 .dump would remove the -wal first.)
if on_pg; then
	skip "and a -wal left by another uid, before SQLite reads it" "$nofile"
else
touch "$DB-wal" && chown nobody "$DB-wal"
"$CAPSTAN" list >"$T/out" 2>"$T/err"
is "and a -wal left by another uid, before SQLite reads it" "$?:$(cat "$T/out" "$T/err")" \
	"1:capstan: inventory file '$DB-wal' is owned by nobody (uid 65534), not by root (uid 0) who runs capstan: mode 0644; another user controls it; fix: chown root '$DB-wal' (--home DIR or CAPSTAN_HOME)"
rm -f "$DB-wal"
fi
check "after chown it is used again" "$CAPSTAN" list

# Readable by others: a warning, not a refusal.
chmod 755 "$H"
on_pg || chmod 644 "$DB"
"$CAPSTAN" list >"$T/out" 2>"$T/err"
is "a home and database others can read are used" "$?" 0
want="capstan: warning: home '$H' is readable by its group and others: mode 0755, owner root (uid 0); chmod 700 '$H' keeps it private"
on_pg || want="$want
capstan: warning: inventory file '$DB' is readable by its group and others: mode 0644, owner root (uid 0); chmod 600 '$DB' keeps it private"
is "with a warning naming each" "$(cat "$T/err")" "$want"
chmod 700 "$H"
on_pg || chmod 600 "$DB"
"$CAPSTAN" list >"$T/out" 2>"$T/err"
is "and none once private" "$?:$(cat "$T/err")" "0:"

# init into a directory of another user's: refused, the directory unchanged.
mkdir -m 777 "$T/theirs" && chown nobody "$T/theirs"
refuses "init into another user's directory is refused" 1 "home '$T/theirs' is owned by nobody" \
	env CAPSTAN_HOME="$T/theirs" "$CAPSTAN" --passphrase-file "$PASS" init --env dev
is "and it is left as it was, empty" "$(modes "$T/theirs"):$(ls -A "$T/theirs")" "777 nobody :"

# The -wal and -shm SQLite makes while capstan runs: 0600, even under umask 000.
cat >"$T/c.yaml" <<'EOF'
organization: Example Corp
environments:
  dev: {}
services:
  spark:
    template: spark
    certs:
      - { name: spark-node, profile: peer, dns: [localhost] }
EOF
cap apply --config "$T/c.yaml" >/dev/null
if on_pg; then
	skip "the -wal and -shm are 0600" "$nofile"
else
(umask 000 && cap renew --due --bundle-dir "$T/deploy" \
	--exec 'stat -c "%a %n" "$CAPSTAN_HOME"/capstan.db-wal "$CAPSTAN_HOME"/capstan.db-shm >"$CAPSTAN_BUNDLE/../modes"') \
	>/dev/null
is "the -wal and -shm are 0600" "$(cut -d' ' -f1 "$T/deploy/dev/modes" | tr '\n' ' ')" "600 600 "
fi

# Secret files.
secret_file "$T/pp" "$(cat "$PASS")"
chmod 644 "$T/pp"
refuses "a passphrase file others can read is refused, the fix named" 1 \
	"--passphrase-file: secret file '$T/pp' is readable by its group and others: mode 0644, owner root \(uid 0\); .*fix: chmod 600 '$T/pp'" \
	"$CAPSTAN" --passphrase-file "$T/pp" issue --env dev --profile server --cn b.internal
chmod 602 "$T/pp"
refuses "and one others can write" 1 "--passphrase-file: secret file '$T/pp' is (readable|writable) by others" \
	"$CAPSTAN" --passphrase-file "$T/pp" issue --env dev --profile server --cn b.internal
chmod 600 "$T/pp" && chown nobody "$T/pp"
refuses "and one another uid owns" 1 "--passphrase-file: secret file '$T/pp' is owned by nobody .*fix: chown root '$T/pp'" \
	"$CAPSTAN" --passphrase-file "$T/pp" issue --env dev --profile server --cn b.internal
chown root "$T/pp"
check "after chmod 600 (and chown) it works again" \
	"$CAPSTAN" --passphrase-file "$T/pp" issue --env dev --profile server --cn b.internal
secret_file "$T/pw" store-password-1
chmod 640 "$T/pw"
refuses "a --password-file its group can read is refused" 1 "--password-file: secret file '$T/pw' is readable by its group" \
	"$CAPSTAN" --passphrase-file "$T/pp" export b.internal --format pkcs12 --password-file "$T/pw" --out "$T/b.p12"
check_fails "and nothing was written" test -e "$T/b.p12"
chmod 600 "$T/pw"
check "after chmod 600 it works" \
	"$CAPSTAN" --passphrase-file "$T/pp" export b.internal --format pkcs12 --password-file "$T/pw" --out "$T/b.p12"
check "a password from a pipe, <(...), is the user's own" \
	"$CAPSTAN" --passphrase-file <(cat "$PASS") export b.internal --format pkcs12 --password-file <(echo pw-1234) --out "$T/c.p12"

done_testing
