#!/usr/bin/env bash
# stress.sh — bounded attacks on the example servers (issue 19), one verdict
# line per attack with its figures. Loopback only; about 2 minutes after the
# build, never more than 5. Not part of `cargo test`.
#
# Usage:  scripts/stress.sh
#
# Attacks, each against a fresh server on 127.0.0.1 (ephemeral port):
#   http_server, started under `ulimit -n 1024`:
#     slowloris  2000 connections dripping an endless head, a byte every 3 s,
#                for SLOWLORIS_SECONDS, while curl asks for / once a second.
#                PASS: >= 95 % of curls answered 200, p99 <= 100 ms, and no
#                dripping connection lived longer than 30 s.
#     smuggle    each request-smuggling case: PASS when every one is
#                answered by a single 400 and the connection closed.
#     garbage    2000 random or mutated requests: PASS when the server closed
#                every connection within 2 s, still answers 200, and logged
#                no panic.
#     soak       50 keep-alive clients for SOAK_SECONDS: PASS with 0 errors
#                and the server's open fds back to their count before.
#     sigterm    PASS when SIGTERM ends the server with status 0 in 10 s.
#   hyper_server: garbage, soak and sigterm as above.
#
# Environment:
#   HTTP_SERVER_BIN, HYPER_SERVER_BIN, ATTACK_BIN  binaries to use (default:
#       built here with `cargo build --release` into target/release/examples)
#   SLOWLORIS_SECONDS (default 40), SOAK_SECONDS (default 15)
#   STRESS_SKIP_HYPER=1  only attack http_server
#
# Exit status: 0 if every verdict is PASS, 1 otherwise.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

loris_secs="${SLOWLORIS_SECONDS:-40}"
soak_secs="${SOAK_SECONDS:-15}"
bins="$repo/target/release/examples"
if [[ -z "${HTTP_SERVER_BIN:-}" || -z "${HYPER_SERVER_BIN:-}" || -z "${ATTACK_BIN:-}" ]]; then
  cargo build --release -q -p corun --example http_server --example hyper_server --example attack
fi
http_bin="${HTTP_SERVER_BIN:-$bins/http_server}"
hyper_bin="${HYPER_SERVER_BIN:-$bins/hyper_server}"
attack="${ATTACK_BIN:-$bins/attack}"
command -v curl >/dev/null || { echo "stress.sh: curl is needed" >&2; exit 2; }

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
verdict() { # name pass(0/1) figures...
  local name="$1" ok="$2"; shift 2
  if [[ "$ok" == 1 ]]; then
    echo "VERDICT $name: PASS — $*"
  else
    echo "VERDICT $name: FAIL — $*"
    failures=$((failures + 1))
  fi
}

# start_server NAME BIN FD_LIMIT: sets server_pid, addr, out, err.
start_server() {
  local name="$1" bin="$2" limit="$3"
  out="$tmp/$name.out"; err="$tmp/$name.err"
  ( ulimit -n "$limit"; exec "$bin" --port 0 ) >"$out" 2>"$err" &
  server_pid=$!
  for _ in $(seq 100); do
    if grep -q '^listening on ' "$out"; then
      addr="$(sed -n 's/^listening on //p' "$out" | head -1)"
      return 0
    fi
    sleep 0.1
  done
  echo "stress.sh: $name did not start: $(cat "$err")" >&2
  exit 1
}

alive() { kill -0 "$server_pid" 2>/dev/null; }
fds() { ls "/proc/$server_pid/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
get_status() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://$addr/" || true; }

# stop_server NAME: SIGTERM, wait at most 10 s, verdict on the exit status.
stop_server() {
  local name="$1" status="timeout"
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 100); do
    if ! alive; then
      wait "$server_pid" && status=0 || status=$?
      break
    fi
    sleep 0.1
  done
  if [[ "$status" == "timeout" ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  server_pid=""
  [[ "$status" == 0 ]] && ok=1 || ok=0
  verdict "$name sigterm" "$ok" "exit status $status (command: kill -TERM <pid>)"
}

garbage() { # NAME
  local name="$1" line status panics ok=0
  line="$("$attack" garbage "$addr" --count 2000 || true)"
  status="$(get_status)"
  panics="$(grep -c panicked "$err" || true)"
  if [[ "$line" == *"left_open 0 connect_failures 0"* && "$status" == 200 && "$panics" == 0 ]] && alive; then ok=1; fi
  verdict "$name garbage" "$ok" "${line#garbage: }; then GET -> $status; panics logged $panics (command: attack garbage ADDR --count 2000)"
}

soak() { # NAME
  local name="$1" fd0 rss0 line fd1 rss1 ok=0
  fd0="$(fds)"; rss0="$(rss_kb)"
  line="$("$attack" soak "$addr" --conns 50 --duration-s "$soak_secs" || true)"
  for _ in $(seq 50); do [[ "$(fds)" -le "$fd0" ]] && break; sleep 0.1; done
  fd1="$(fds)"; rss1="$(rss_kb)"
  if [[ "$line" == *" errors 0 "* && "$fd1" -le "$fd0" ]] && alive; then ok=1; fi
  verdict "$name soak" "$ok" "${line#soak: }; fds $fd0 -> $fd1; RSS ${rss0} -> ${rss1} KiB (command: attack soak ADDR --conns 50 --duration-s $soak_secs)"
}

echo "== http_server ($http_bin), ulimit -n 1024"
start_server http_server "$http_bin" 1024

# --- slowloris, with one curl a second beside it.
"$attack" slowloris "$addr" --conns 2000 --interval-ms 3000 --duration-s "$loris_secs" >"$tmp/loris.txt" &
attack_pid=$!
sleep 3 # the first wave of connections is in
: >"$tmp/curl.txt"
for _ in $(seq $((loris_secs - 5))); do
  curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}\n' "http://$addr/" >>"$tmp/curl.txt" || true
  sleep 1
done
wait "$attack_pid" || true
loris="$(cat "$tmp/loris.txt")"
n="$(wc -l <"$tmp/curl.txt")"
ok200="$(awk '$1 == 200' "$tmp/curl.txt" | wc -l)"
awk '{ printf "%.0f\n", $2 * 1000 }' "$tmp/curl.txt" | sort -n >"$tmp/ms.txt"
nth() { sed -n "$(( (n * $1 + 99) / 100 ))p" "$tmp/ms.txt"; } # the ceil(n*p/100)-th
p50="$(nth 50)"; p99="$(nth 99)"; p50="${p50:-0}"; p99="${p99:-999999}"
pct=$(( n > 0 ? ok200 * 100 / n : 0 ))
longest="$(sed -n 's/.*longest_closed_s \([0-9.]*\).*/\1/p' <<<"$loris")"
oldest="$(sed -n 's/.*oldest_open_s \([0-9.]*\).*/\1/p' <<<"$loris")"
ok=0
if (( pct >= 95 && p99 <= 100 )) && awk -v a="${longest:-999}" -v b="${oldest:-999}" 'BEGIN { exit !(a <= 30 && b <= 30) }' && alive; then ok=1; fi
verdict "http_server slowloris" "$ok" "curl 200: $ok200/$n ($pct %), p50 ${p50} ms, p99 ${p99} ms; ${loris#slowloris: } (command: ulimit -n 1024 server; attack slowloris ADDR --conns 2000 --interval-ms 3000 --duration-s $loris_secs; curl once a second)"

# --- smuggling.
smuggle_out="$("$attack" smuggle "$addr" || true)"
grep '^  ' <<<"$smuggle_out" || true
summary="$(tail -1 <<<"$smuggle_out")"
cases="$(sed -n 's/.*cases \([0-9]*\).*/\1/p' <<<"$summary")"
passed="$(sed -n 's/.*passed \([0-9]*\).*/\1/p' <<<"$summary")"
[[ -n "$cases" && "$cases" == "$passed" ]] && ok=1 || ok=0
verdict "http_server smuggle" "$ok" "${passed:-0}/${cases:-?} cases answered 400 and closed (command: attack smuggle ADDR)"

garbage http_server
soak http_server
stop_server http_server

if [[ "${STRESS_SKIP_HYPER:-}" != 1 ]]; then
  echo "== hyper_server ($hyper_bin), ulimit -n 1024"
  start_server hyper_server "$hyper_bin" 1024
  garbage hyper_server
  soak hyper_server
  stop_server hyper_server
fi

echo "stress.sh: $failures failed verdict(s)"
[[ "$failures" == 0 ]]
