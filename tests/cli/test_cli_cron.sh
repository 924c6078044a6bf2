#!/usr/bin/env bash
# `importq cron 'EXPR'` through the real binary, with fixed --after times
# so the output is exact: the table (local time with offset, weekday, UTC)
# across a DST change, --json as the API's preview, --count (default 5,
# at most 100), one-off times, the parser's and the zone's errors and bad
# usage (exit 2, as a bad job spec). No server and no database: a --db nobody can
# open is never touched.
# Usage: test_cli_cron.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "FAIL: jq is needed"; exit 1; }
trap 'rm -f "$out"' EXIT
nodb=(--db sqlite:/nonexistent/importq-cli-cron/x.db)

# prints CMD... EXPECTED: CMD's stdout is exactly EXPECTED (exit 0).
prints() {
    local want=${*: -1} got
    got=$("${@:1:$#-1}") || { echo "exit $?"; return 1; }
    [ "$got" = "$want" ] || { printf 'got:\n%s\nwant:\n%s\n' "$got" "$want"; return 1; }
}
# says CODE CMD... TEXT: CMD exits CODE with exactly TEXT on stderr.
says() {
    local code=$1 want=${*: -1} got
    got=$("${@:2:$#-2}" 2>&1 >/dev/null)
    local rc=$?
    [ "$rc" -eq "$code" ] && [ "$got" = "$want" ] ||
        { printf 'exit %s, stderr:\n%s\nwant exit %s and:\n%s\n' "$rc" "$got" "$code" "$want"; return 1; }
}

check "02:30 in Zurich over the spring-forward: 03:00 on the day" \
    prints "$bin" cron '30 2 * * *' --tz Europe/Zurich --after 2026-03-27T12:00:00Z --count 3 "${nodb[@]}" \
"LOCAL (Europe/Zurich)      DAY  UTC
2026-03-28T02:30:00+01:00  Sat  2026-03-28T01:30:00Z
2026-03-29T03:00:00+02:00  Sun  2026-03-29T01:00:00Z
2026-03-30T02:30:00+02:00  Mon  2026-03-30T00:30:00Z"

check "every 15 minutes in New York over the fall-back: both passes" \
    prints "$bin" cron '*/15 * * * *' --tz America/New_York --after 2026-11-01T05:20:00Z --count 4 \
"LOCAL (America/New_York)   DAY  UTC
2026-11-01T01:30:00-04:00  Sun  2026-11-01T05:30:00Z
2026-11-01T01:45:00-04:00  Sun  2026-11-01T05:45:00Z
2026-11-01T01:00:00-05:00  Sun  2026-11-01T06:00:00Z
2026-11-01T01:15:00-05:00  Sun  2026-11-01T06:15:00Z"

check "--json: UTC times as the API's preview" \
    bash -c "'$bin' cron '0 0 29 2 *' --after 2026-01-01T00:00:00Z --count 3 --json |
             jq -e '.times == [\"2028-02-29T00:00:00.000Z\", \"2032-02-29T00:00:00.000Z\", \"2036-02-29T00:00:00.000Z\"]'"
check "--json in a zone" \
    bash -c "'$bin' cron '@daily' --tz Asia/Kathmandu --after 2026-01-01T00:00:00Z --count 1 --json |
             jq -e '.times == [\"2026-01-01T18:15:00.000Z\"]'"
check "five times by default" \
    bash -c "[ \$('$bin' cron '@hourly' --after 2026-01-01T00:00:00Z | wc -l) -eq 6 ]"
check "--count 100" \
    bash -c "[ \$('$bin' cron '* * * * * *' --count 100 --json | jq '.times | length') -eq 100 ]"
check "without --after: from now on" \
    bash -c "'$bin' cron '* * * * *' --count 1 --json | jq -e '.times[0] > \"$(date -u +%Y-%m-%dT%H:%M)\"'"
check "a one-off time" \
    prints "$bin" cron '2026-12-01T02:00:00+01:00' --tz Europe/Zurich --after 2026-01-01T00:00:00Z \
"LOCAL (Europe/Zurich)      DAY  UTC
2026-12-01T02:00:00+01:00  Tue  2026-12-01T01:00:00Z"
check "a one-off time that has passed" \
    prints "$bin" cron '2026-01-01T00:00:00Z' --after 2026-03-27T12:00:00Z \
    "no fire time after 2026-03-27T12:00:00.000Z"
check "a one-off time that has passed, as JSON" \
    bash -c "'$bin' cron '2026-01-01T00:00:00Z' --after 2026-03-27T12:00:00Z --json | jq -e '.times == []'"

check "a bad field: exit 2 with the field and position" \
    says 2 "$bin" cron '*/15 24 * * *' "importq: cron: hour: value 24 out of range 0-23 at position 6"
check "an expression that never fires" \
    says 2 "$bin" cron '0 0 30 2 *' \
    "importq: cron: day-of-month: never occurs in the chosen months (the schedule would never fire) at position 5"
check "an unknown zone" \
    says 2 "$bin" cron '0 0 * * *' --tz Europe/Zurik \
    "importq: timezone: unknown time zone \"Europe/Zurik\": use an IANA name such as Europe/Zurich or UTC"
check "--count 0" says 2 "$bin" cron '* * * * *' --count 0 "importq cron: --count needs an integer from 1 to 100"
check "--count 101" says 2 "$bin" cron '* * * * *' --count 101 "importq cron: --count needs an integer from 1 to 100"
check "--count x" expect_exit 2 "$bin" cron '* * * * *' --count x
check "a bad --after" \
    says 2 "$bin" cron '* * * * *' --after yesterday \
    "importq cron: --after needs an RFC 3339 time such as 2026-12-01T02:00:00Z"
check "no expression" expect_exit 2 "$bin" cron
check "two expressions" expect_exit 2 "$bin" cron '* * * * *' '0 0 * * *'
check "--help names the options" \
    bash -c "'$bin' cron --help | grep -q -- '--tz' && '$bin' --help | grep -q '^  cron '"
summary test_cli_cron
