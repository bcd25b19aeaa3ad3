#!/usr/bin/env bash
# test/run_checks.sh judges GoogleTest by the binary's exit status as well as by its summary
# lines. Under `make check SANITIZE=1`, LeakSanitizer reports at exit, after the last test: every
# test has printed OK and the summary says PASSED, but the process exits non-zero (1 under ASan).
# A harness that counted only the PASSED line would let a leak (or a crash in a static
# destructor) through as a green run. Stand-ins for sdp-tests (BUILDDIR points at them): scripts
# printing what GoogleTest prints, and a real ASan binary that leaks. No server needed.
source "$(dirname "$0")/lib.sh"
w=$e2e_work

# fake_gtest NAME EXIT_STATUS: writes $w/NAME/sdp-tests, which prints what GoogleTest prints for
# two tests (from $w/NAME.out) and exits with EXIT_STATUS.
fake_gtest() {
  mkdir -p "$w/$1"
  cat >"$w/$1/sdp-tests" <<SH
#!/usr/bin/env bash
cat "$w/$1.out"
exit $2
SH
  chmod +x "$w/$1/sdp-tests"
}
passing_tests() {
  cat <<'OUT'
[==========] Running 2 tests from 1 test suite.
[----------] 2 tests from FakeTest
[ RUN      ] FakeTest.One
[       OK ] FakeTest.One (0 ms)
[ RUN      ] FakeTest.Two
[       OK ] FakeTest.Two (0 ms)
[----------] 2 tests from FakeTest (0 ms total)

[==========] 2 tests from 1 test suite ran. (0 ms total)
[  PASSED  ] 2 tests.
OUT
}

# run_harness NAME: runs run_checks.sh --only gtest on fake NAME; its output in $w/NAME.log, its
# exit status in $harness_status.
run_harness() {
  set +e
  BUILDDIR="$w/$1" SDP_STRESS=0 bash "$repo/test/run_checks.sh" --only gtest >"$w/$1.log" 2>&1
  harness_status=$?
  set -e
}
last_line() { tail -n 1 "$w/$1.log"; }

# Control: all passed, exit 0 -> a passing run (so the checks below can tell the difference).
passing_tests >"$w/clean.out"
fake_gtest clean 0
run_harness clean
((harness_status == 0)) || fail "clean run reported a failure: $(cat "$w/clean.log")"
[[ $(last_line clean) == "2 passed, 0 failed" ]] || fail "clean run: $(last_line clean)"
pass "every test passed, exit 0: 2 passed, 0 failed, exit 0"

# The attack: every test PASSED, then a LeakSanitizer report and exit 23 (standalone LSan's code).
{
  passing_tests
  cat <<'OUT'

=================================================================
==4242==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 64 byte(s) in 1 object(s) allocated from:
    #0 0x7f0000000000 in operator new(unsigned long)
    #1 0x555555555555 in sdp::Leaky() src/agent/leaky.cc:12

SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).
OUT
} >"$w/leak.out"
fake_gtest leak 23
run_harness leak
((harness_status != 0)) || fail "a LeakSanitizer report with every test PASSED counted as a pass: $(cat "$w/leak.log")"
[[ $(last_line leak) == "2 passed, 1 failed" ]] || fail "leak run: $(last_line leak)"
grep -q 'exited with status 23 although no test failed' "$w/leak.log" || fail "no reason given: $(cat "$w/leak.log")"
grep -qF 'SUMMARY: AddressSanitizer: 64 byte(s) leaked' "$w/leak.log" || fail "the sanitizer's summary is not shown: $(cat "$w/leak.log")"
grep -qx 'gtest 2 1' "$w/leak/check/summary" || fail "summary file: $(cat "$w/leak/check/summary")"
pass "every test PASSED but a LeakSanitizer report and exit 23: 2 passed, 1 failed, exit non-zero"

# The same for real: a binary built with -fsanitize=address (as SANITIZE=1 builds sdp-tests)
# that prints GoogleTest's summary and leaks; LeakSanitizer makes it exit 1.
mkdir -p "$w/asan"
cat >"$w/asan_leak.cc" <<'CC'
#include <cstdio>
#include <cstdlib>
void* volatile kept;
int main() {
  kept = std::malloc(64);
  kept = nullptr;  // the only pointer dropped: a definite leak at exit
  std::printf("[==========] 1 test from 1 test suite ran. (0 ms total)\n[  PASSED  ] 1 test.\n");
  std::fflush(stdout);  // as GoogleTest does: LeakSanitizer ends the process without flushing
  return 0;
}
CC
g++ -g -O0 -fsanitize=address -o "$w/asan/sdp-tests" "$w/asan_leak.cc" || fail "cannot build an ASan binary"
ASAN_OPTIONS=detect_leaks=1 run_harness asan  # whatever the caller set
((harness_status != 0)) || fail "a real LeakSanitizer report counted as a pass: $(cat "$w/asan.log")"
[[ $(last_line asan) == "1 passed, 1 failed" ]] || fail "asan run: $(last_line asan)"
grep -q 'SUMMARY: AddressSanitizer: 64 byte(s) leaked' "$w/asan.log" || fail "asan run: $(cat "$w/asan.log")"
pass "a real ASan binary that passes and leaks: 1 passed, 1 failed, exit non-zero"

# A failing test: counted from the summary as before (not doubled by the exit status).
sed -e 's/^\[       OK \] FakeTest.Two (0 ms)/[  FAILED  ] FakeTest.Two (0 ms)/' \
  -e 's/^\[  PASSED  \] 2 tests\./[  PASSED  ] 1 test.\n[  FAILED  ] 1 test, listed below:\n[  FAILED  ] FakeTest.Two/' \
  <(passing_tests) >"$w/failing.out"
fake_gtest failing 1
run_harness failing
((harness_status != 0)) || fail "a failing test counted as a pass"
[[ $(last_line failing) == "1 passed, 1 failed" ]] || fail "failing run: $(last_line failing)"
pass "one test FAILED, exit 1: 1 passed, 1 failed"

# A crash before the summary (no PASSED line at all).
head -n 4 <(passing_tests) >"$w/crash.out"
fake_gtest crash 139
run_harness crash
((harness_status != 0)) || fail "a crash counted as a pass"
[[ $(last_line crash) == "0 passed, 1 failed" ]] || fail "crash run: $(last_line crash)"
grep -q 'did not finish (exit status 139)' "$w/crash.log" || fail "crash run: $(cat "$w/crash.log")"
pass "crash before the summary: 0 passed, 1 failed"

echo "$checks checks passed"
