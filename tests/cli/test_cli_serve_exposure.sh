#!/usr/bin/env bash
# How `importq serve` guards its listener, through the real binary:
#   - a non-loopback address is refused while no API token exists, and
#     accepted once one does;
#   - with tls-cert/tls-key it speaks HTTPS only (a self-signed pair made
#     with openssl here), and half a TLS setup is refused at start;
#   - an address that is taken fails the start with exit 1.
# Usage: test_cli_serve_exposure.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir" "$out"' EXIT
db="sqlite:$dir/q.db"
mkdir -p "$dir/in"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL [curl options]: true once it answers 200
    local url=$1; shift
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}
"$bin" migrate --db "$db" >/dev/null

# 1. Non-loopback without a token: refused, exit 1, and the message says what to do.
port=$(free_port)
timeout 20 "$bin" serve --db "$db" --import-root "$dir/in" --listen "0.0.0.0:$port" \
    >"$dir/open.log" 2>&1
check "non-loopback without a token exits 1" [ $? -eq 1 ]
check "the refusal says to create a token" grep -q "importq token create" "$dir/open.log"

# 2. With a token it serves there (probed on loopback, which 0.0.0.0 covers).
token=$("$bin" token create --name exposed --role viewer --db "$db" 2>/dev/null)
"$bin" serve --db "$db" --import-root "$dir/in" --listen "0.0.0.0:$port" \
    >"$dir/open2.log" 2>&1 &
pids+=($!)
check "non-loopback with a token serves" wait_http "http://127.0.0.1:$port/healthz"
check "and still wants the token" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v2/import-queue")" = 401 ]
check "the token works" [ "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v2/import-queue")" = 200 ]

# 3. A taken address: exit 1 (the first server still holds the port).
timeout 20 "$bin" serve --db "$db" --import-root "$dir/in" --listen "127.0.0.1:$port" \
    >"$dir/taken.log" 2>&1
check "a taken port exits 1" [ $? -eq 1 ]
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null; pids=()

# 4. TLS: a self-signed pair; HTTPS answers, plain HTTP does not.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1
port=$(free_port)
"$bin" serve --db "$db" --import-root "$dir/in" --listen "127.0.0.1:$port" \
    --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" >"$dir/tls.log" 2>&1 &
pids+=($!)
check "HTTPS answers" wait_http "https://127.0.0.1:$port/healthz" --cacert "$dir/cert.pem"
check "the certificate is the configured one" \
    curl -sf --cacert "$dir/cert.pem" -o /dev/null "https://127.0.0.1:$port/readyz"
check "plain HTTP gets no answer" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$port/healthz")" = 000 ]
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null; pids=()

# 5. Half a TLS setup, or an unreadable certificate: refused at start.
timeout 20 "$bin" serve --db "$db" --import-root "$dir/in" --listen 127.0.0.1:0 \
    --tls-cert "$dir/cert.pem" >"$dir/half.log" 2>&1
check "tls-cert without tls-key exits 1" [ $? -eq 1 ]
timeout 20 "$bin" serve --db "$db" --import-root "$dir/in" --listen 127.0.0.1:0 \
    --tls-cert "$dir/missing.pem" --tls-key "$dir/key.pem" >"$dir/missing.log" 2>&1
check "a missing certificate exits 1" [ $? -eq 1 ]

summary cli_serve_exposure
