#!/usr/bin/env bash
# The help, the man page and the shell completions, all made from the
# command table: each command's help lists its own flags and only the
# settings it reads, with examples; `help CMD`, `CMD --help` and `CMD -h`
# agree; the man page renders without a groff warning and is the one the
# build made; `make install DESTDIR=...` installs the binary, the man page
# and both completions; the bash completion offers commands, flags, the
# values of enumerated flags and files; the zsh script parses and completes.
# (The examples themselves run in test_cli_help_examples.sh.)
# Usage: test_cli_help.sh BINARY
set -u
bin=$(realpath "$1")
build=$(dirname "$bin")
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir" "$out"' EXIT

# has FILE TEXT / lacks FILE TEXT: a fixed-string search that shows FILE when it fails.
has() { grep -qF -- "$2" "$1" || { echo "no \"$2\" in:"; cat "$1"; return 1; }; }
lacks() { ! grep -qF -- "$2" "$1" || { echo "\"$2\" should not be in:"; cat "$1"; return 1; }; }

# ---- each command's help ----
"$bin" import --help >"$dir/import.txt"
"$bin" serve --help >"$dir/serve.txt"
"$bin" status --help >"$dir/status.txt"
"$bin" cron --help >"$dir/cron.txt"
check "import --help lists its own flags" has "$dir/import.txt" "--delimiter"
check "import --help lists the database it writes to" has "$dir/import.txt" "--db"
check "import --help lists no server setting" lacks "$dir/import.txt" "--tls-key"
check "import --help lists no client setting" lacks "$dir/import.txt" "--server"
check "serve --help lists the server settings" has "$dir/serve.txt" "--tls-key"
check "serve --help lists --max-concurrent with its default" has "$dir/serve.txt" "(default: 3)"
check "serve --help lists no client setting" lacks "$dir/serve.txt" "--token"
check "status --help lists --server and --token" \
    bash -c "grep -qF -- '--server' '$dir/status.txt' && grep -qF -- '--token' '$dir/status.txt'"
check "status --help lists no database" lacks "$dir/status.txt" "--db"
check "cron --help lists no settings at all" lacks "$dir/cron.txt" "Settings"
check "no help prints an empty default" bash -c "! '$bin' serve --help | grep -qF '(default: )'"
"$bin" infer --help >"$dir/infer.txt"
check "infer --help lists --infer-rows but not --quiet or --on-error" \
    bash -c "grep -qF -- '--infer-rows' '$dir/infer.txt' && ! grep -qF -- '--quiet' '$dir/infer.txt' \
             && ! grep -qF -- '--on-error' '$dir/infer.txt'"

commands=$("$bin" --help | awk '/^Commands:/ {on = 1; next} /^$/ {on = 0} on {print $1}')
check "--help lists the commands" bash -c "[ $(echo "$commands" | wc -w) -ge 20 ]"
for c in $commands; do
    "$bin" help "$c" >"$dir/help-$c.txt" 2>&1
    check "$c: help $c is $c --help" bash -c "'$bin' $c --help | cmp -s - '$dir/help-$c.txt'"
    check "$c: help $c is $c -h" bash -c "'$bin' $c -h | cmp -s - '$dir/help-$c.txt'"
    check "$c: help has a Usage line" has "$dir/help-$c.txt" "Usage: importq $c"
    check "$c: help has two or more examples of $c" bash -c "
        awk '/^Examples:/ {on = 1; next} on && /^  importq $c( |\$)/ {n++} END {exit !(n >= 2)}' \
            '$dir/help-$c.txt' || grep -qE '^  (source|mkdir).*importq $c' '$dir/help-$c.txt'"
done
check "a setting not listed is still accepted" \
    bash -c "'$bin' cron '0 2 * * *' --count 1 --tls-key none.pem >/dev/null"
check "help of an unknown command exits 2" expect_exit 2 "$bin" help nosuch
check "help with two commands exits 2" expect_exit 2 "$bin" help import serve
check "help and completion read no configuration (a broken one cannot stop them)" bash -c "
    printf '[importq]\nnosuch = 1\n' >'$dir/broken.ini'
    IMPORTQ_CONFIG='$dir/broken.ini' '$bin' help import >/dev/null &&
    IMPORTQ_CONFIG='$dir/broken.ini' '$bin' completion bash >/dev/null &&
    ! IMPORTQ_CONFIG='$dir/broken.ini' '$bin' cron '0 2 * * *' >/dev/null 2>&1"

# ---- the man page ----
"$bin" help --man >"$dir/importq.1"
check "the build made importq.1 from this binary" cmp "$build/importq.1" "$dir/importq.1"
for section in NAME SYNOPSIS DESCRIPTION COMMANDS SETTINGS ENVIRONMENT FILES "EXIT STATUS"; do
    check "the man page has $section" has "$dir/importq.1" ".SH $section"
done
for c in $commands; do
    check "the man page has command $c" has "$dir/importq.1" ".SS $c"
done
# man_lists_settings: every setting serve or a client command lists has its entry in the man page.
man_lists_settings() {
    local key keys
    keys=$({ "$bin" serve --help; "$bin" status --help; } |
        awk '/^Settings/ {on = 1; next} /^$/ {on = 0} on {print $1}' | sed 's/^--//' | grep -v '^config$')
    [ "$(echo "$keys" | wc -l)" -ge 40 ] || { echo "too few settings: $keys"; return 1; }
    for key in $keys; do
        grep -qxF -- ".B \\-\\-${key//-/\\-}" "$dir/importq.1" || { echo "no entry for --$key"; return 1; }
    done
}
check "the man page lists every setting" man_lists_settings
if command -v groff >/dev/null; then
    check "groff renders the man page without a warning" bash -c "
        groff -man -Tutf8 -ww -z '$dir/importq.1' 2>'$dir/groff.err'; rc=\$?
        cat '$dir/groff.err'; [ \$rc -eq 0 ] && [ ! -s '$dir/groff.err' ]"
    check "the rendered page shows options with ASCII dashes" bash -c "
        groff -man -Tutf8 '$dir/importq.1' 2>/dev/null | grep -q -- '--delimiter'"
else
    failed "groff is not installed (scripts/deps.sh test: groff-base)"
fi

# ---- make install ----
# (-o build: install's recipe only; this test never rebuilds what other tests run)
stage=$dir/stage
check "make install DESTDIR=... PREFIX=/usr installs binary, man page, completions" bash -c "
    make -s -C '$repo' -o build install BUILD='$build' DESTDIR='$stage' PREFIX=/usr >'$dir/install.log' 2>&1 \
        || { cat '$dir/install.log'; exit 1; }
    for f in bin/importq share/man/man1/importq.1 share/bash-completion/completions/importq \
             share/zsh/site-functions/_importq; do
        [ -s '$stage/usr/'\$f ] || { echo \"not installed: /usr/\$f\"; find '$stage'; exit 1; }
    done
    cmp '$stage/usr/share/man/man1/importq.1' '$dir/importq.1'"

# ---- bash completion ----
"$bin" completion bash >"$dir/importq.bash"
check "completion of an unknown shell exits 2" expect_exit 2 "$bin" completion fish
check "the installed bash completion is this one" \
    cmp "$stage/usr/share/bash-completion/completions/importq" "$dir/importq.bash"
mkdir -p "$dir/files" && touch "$dir/files/users.csv" "$dir/files/users.json"
# completes WORDS... -- WANT...: completing the last word gives exactly WANT (sorted).
completes() {
    local words=() want=()
    while [ "$1" != -- ]; do words+=("$1"); shift; done
    shift
    want=("$@")
    local got
    got=$(cd "$dir/files" && bash -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
        _importq; printf "%s\n" "${COMPREPLY[@]}" | sort' sh "$dir/importq.bash" "${words[@]}")
    local expected
    expected=$(printf '%s\n' "${want[@]}" | sed '/^$/d' | sort)
    [ "$got" = "$expected" ] || { echo "completing '${words[*]}': got [$got], want [$expected]"; return 1; }
}
check "bash: importq imp<TAB> -> import" completes importq imp -- import
check "bash: importq rec<TAB> -> recommendations" completes importq rec -- recommendations
check "bash: --mo<TAB> after FILE -> --mode" completes importq import x.csv --mo -- --mode
check "bash: --mode <TAB> -> the modes" \
    completes importq import x.csv --mode '' -- insert upsert append replace
check "bash: --mode=up<TAB> -> upsert" completes importq import x.csv --mode = up -- upsert
check "bash: --format <TAB> -> csv ndjson json" completes importq import x.csv --format '' -- csv ndjson json
check "bash: token create --role <TAB>" completes importq token create --role '' -- viewer operator admin
check "bash: jobs --status f<TAB> -> failed" completes importq jobs --status f -- failed
check "bash: alerts --state <TAB>" completes importq alerts --state '' -- open acked resolved
check "bash: schedules create --misfire <TAB>" \
    completes importq schedules create --misfire '' -- skip run_once catch_up
check "bash: serve --log-level <TAB>" completes importq serve --log-level '' -- debug info warn error off
check "bash: serve --tls-k<TAB> -> --tls-key" completes importq serve --tls-k -- --tls-key
check "bash: import lists no server setting" completes importq import x.csv --tls -- ''
check "bash: status --se<TAB> -> --server" completes importq status --se -- --server
check "bash: import <TAB> -> files" completes importq import '' -- users.csv users.json
check "bash: import --spec u<TAB> -> files" completes importq import x.csv --spec users.j -- users.json
check "bash: import FILE <TAB> -> nothing more" completes importq import x.csv '' -- ''
check "bash: import --table T <TAB> -> files (FILE not given yet)" \
    completes importq import --table t '' -- users.csv users.json
check "bash: a value of an unknown kind offers nothing" completes importq import x.csv --table '' -- ''
check "bash: token <TAB> -> its subcommands" completes importq token '' -- create list revoke
check "bash: help im<TAB> -> import" completes importq help im -- import
check "bash: completion <TAB> -> bash zsh" completes importq completion '' -- bash zsh

# ---- zsh completion ----
"$bin" completion zsh >"$dir/_importq"
if command -v zsh >/dev/null; then
    check "zsh: the script parses (zsh -n)" zsh -n "$dir/_importq"
    check "zsh: completes commands, flags and values through compinit" \
        python3 "$(dirname "$0")/zsh_complete.py" "$dir/_importq" "$dir/files"
else
    failed "zsh is not installed (scripts/deps.sh test)"
fi

summary "cli help"
