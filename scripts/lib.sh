# Shared by scripts/*: paths, build, and the local S3-API server.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${TMPDUMP_BUILD_DIR:-$here/build}
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# build [cmake -D options...]: configure (first time) and build everything.
build() {
  local t0=$SECONDS
  if [[ ! -f "$build_dir/build.ninja" ]]; then
    cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  fi
  cmake --build "$build_dir" -j"$jobs" | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "build failed" >&2; return 1; }
  say "built in $((SECONDS - t0)) s ($build_dir)"
}

# start_s3server DIR: starts the local S3-API server on a free 127.0.0.1 port;
# sets S3_PORT and S3_PID. stop_s3server stops it.
start_s3server() {
  local dir=$1 out
  mkdir -p "$dir/data"
  out="$dir/server.out"
  node "$here/tests/s3server/serve.js" "$dir/data" 0 dumps >"$out" 2>&1 &
  S3_PID=$!
  for _ in $(seq 100); do
    if grep -q '^READY ' "$out" 2>/dev/null; then
      S3_PORT=$(awk '/^READY/{print $2}' "$out")
      return 0
    fi
    sleep 0.1
  done
  echo "the S3 server did not start:" >&2
  cat "$out" >&2
  return 1
}
stop_s3server() {
  [[ -n "${S3_PID:-}" ]] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
  S3_PID=
}

# Environment for a client of the local server (its default key pair).
s3_client_env() {
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT"
  unset AWS_PROFILE AWS_SESSION_TOKEN
}
