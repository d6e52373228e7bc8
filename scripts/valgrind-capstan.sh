#!/bin/sh
# capstan under valgrind memcheck, for `make valgrind`: the end-to-end tests
# run this in place of the binary. Any error (invalid access, uninitialised
# value, definite leak) exits 99 and leaves a log in $CAPSTAN_VALGRIND_LOGS.
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-origins=yes \
	--log-file="${CAPSTAN_VALGRIND_LOGS:?}/memcheck.%p" "${CAPSTAN_VALGRIND_BIN:?}" "$@"
