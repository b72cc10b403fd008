# Shared by bench/*/run: the set of real native libraries every archive
# benchmark packs, so bench/pull and bench/pack measure the same bytes.
# shellcheck shell=bash

# collect_libraries DIR SIZE_MB: copies the largest real shared libraries of
# this machine (largest families first) and the symlinks that point at them
# into DIR until SIZE_MB megabytes; sets tree_bytes.
collect_libraries() {
  local dest=$1 size_mb=$2 libdir=/usr/lib/x86_64-linux-gnu fam f name
  local families=(libtorch libc10 libopencv libopenblas libdnnl libprotobuf libgomp libLLVM libicudata libz3 libstdc++
                  libcrypto libssl libcurl libzstd libisal)
  local added=0 budget=$((size_mb * 1000 * 1000))
  mkdir -p "$dest"
  for fam in "${families[@]}" lib; do
    while IFS= read -r f; do
      [[ $added -ge $budget ]] && break 2
      name=$(basename "$f")
      [[ -e "$dest/$name" || -L "$dest/$name" ]] && continue
      cp -a "$f" "$dest/"
      # Keep the symlink chain that points at it.
      find "$libdir" -maxdepth 1 -type l -lname "$name" -exec cp -a {} "$dest/" \;
      added=$((added + $(stat -c %s "$f")))
    done < <(find "$libdir" -maxdepth 1 -type f -name "${fam}*.so*" -printf '%s %p\n' | sort -rn | awk '{print $2}')
  done
  # shellcheck disable=SC2034  # read by the sourcing script
  tree_bytes=$(du -sb "$dest" | cut -f1)
}

# median: the median of the numbers on stdin, one a line ("nan" when none).
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B with two decimals, "-" when B is not above 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# CPU quotas, as Lambda sets them (a share of one core), in cgroup v1 ("cpu"
# hierarchy) or v2 ("cpu.max").
#   cpu_group_probe                 true when a group can be made here
#   cpu_group_create NAME SHARE     makes (or resets) the group; prints its path
#   cpu_group_join_cmd PATH         a shell command that moves the shell running it into PATH
#   cpu_group_remove PATH           removes it (once its processes have ended)
cpu_group_root() {
  if [[ -d /sys/fs/cgroup/cpu && -f /sys/fs/cgroup/cpu/cgroup.procs ]]; then echo /sys/fs/cgroup/cpu
  elif [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then echo /sys/fs/cgroup
  else return 1
  fi
}
cpu_group_probe() {
  local root g
  root=$(cpu_group_root) || return 1
  g="$root/tmpdump-probe-$$"
  mkdir "$g" 2>/dev/null || return 1
  rmdir "$g"
}
cpu_group_create() {
  local root g quota
  root=$(cpu_group_root)
  g="$root/$1"
  mkdir -p "$g"
  quota=$(printf '%.0f' "$(echo "$2 * 100000" | bc -l)")
  if [[ -f "$g/cpu.cfs_quota_us" ]]; then
    echo 100000 >"$g/cpu.cfs_period_us"
    echo "$quota" >"$g/cpu.cfs_quota_us"
  else
    grep -qw cpu "$root/cgroup.subtree_control" || echo +cpu >"$root/cgroup.subtree_control"
    echo "$quota 100000" >"$g/cpu.max"
  fi
  echo "$g"
}
cpu_group_join_cmd() { printf 'echo $$ >%q/cgroup.procs' "$1"; }
cpu_group_remove() { rmdir "$1" 2>/dev/null || true; }
