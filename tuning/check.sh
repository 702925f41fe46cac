#!/usr/bin/env bash
# Print the current value of every setting in tuning/99-coremq.conf next to the
# recommended one, plus the process limits that matter to coremq. Read-only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
status=0
trim() { local s="$1"; s="${s#"${s%%[![:space:]]*}"}"; printf '%s' "${s%"${s##*[![:space:]]}"}"; }
# Settings where a smaller value is the better one (timeouts).
at_most=" net.ipv4.tcp_fin_timeout net.ipv4.tcp_keepalive_time "
printf '%-34s %-28s %-28s %s\n' setting current recommended ok
while IFS='=' read -r key value; do
  case "$key" in ''|'#'*) continue ;; esac
  key=$(trim "$key"); value=$(trim "$value")
  path=/proc/sys/$(echo "$key" | tr . /)
  if [ -r "$path" ]; then current=$(tr -s '[:space:]' ' ' < "$path"); current=$(trim "$current"); else current='(absent)'; fi
  ok=yes
  if [ "$current" = '(absent)' ]; then ok='n/a'
  elif [ "$current" != "$value" ]; then
    # Single numbers: at least the recommended value is fine.
    if [[ "$current" =~ ^[0-9]+$ && "$value" =~ ^[0-9]+$ ]] && [ "$key" != kernel.io_uring_disabled ]; then
      if [[ "$at_most" == *" $key "* ]]; then
        [ "$current" -le "$value" ] || { ok=NO; status=1; }
      else
        [ "$current" -ge "$value" ] || { ok=NO; status=1; }
      fi
    else ok=NO; status=1; fi
  fi
  printf '%-34s %-28s %-28s %s\n' "$key" "$current" "$value" "$ok"
done < "$here/99-coremq.conf"
echo
printf '%-34s %-28s %-28s\n' limit current recommended
printf '%-34s %-28s %-28s\n' 'open files (ulimit -n)' "$(ulimit -n)" 2097152
printf '%-34s %-28s %-28s\n' 'locked memory KiB (ulimit -l)' "$(ulimit -l)" unlimited
printf '%-34s %-28s\n' 'cores' "$(nproc)"
exit $status
