# Sourced by the checks that run containers (compose, Swarm, DNS): PASS/FAIL
# lines with a running count, a free loopback port, and HTTP from the host that
# never goes through a proxy.
# shellcheck shell=bash

passed=0
failed=0

# result ok|fail NAME [DETAIL]
result() {
  if [[ "$1" == ok ]]; then
    passed=$((passed + 1))
    echo "PASS $2${3:+ ($3)}"
  else
    failed=$((failed + 1))
    echo "FAIL $2${3:+ ($3)}"
  fi
}

# check NAME DETAIL CONDITION...: result from a command's exit status.
check() {
  local name="$1" detail="$2"
  shift 2
  if "$@"; then result ok "$name" "$detail"; else result fail "$name" "$detail"; fi
}

finish() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_code URL [curl args...]: the status code, 000 when nothing answered.
http_code() {
  local url="$1"
  shift
  curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 3 "$@" "$url" || true
}

# wait_for SECONDS COMMAND...: true once COMMAND succeeds, polling every 0.5 s.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# A random password: letters and digits only, safe inside a URL.
random_password() {
  python3 -c 'import secrets; print(secrets.token_hex(16))'
}
