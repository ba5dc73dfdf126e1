#!/usr/bin/env bash
# Nightly runbook: close the unsolved conversations that had no message for STALE_DAYS days.
#
#   PARTOO_API_KEY=... jobs/close-stale.sh          # from cron or a CI scheduler
#
# Two partoo-bulk commands: `select` lists the conversations and writes a dated job file
# (it changes nothing), then `run --yes` sends that file and writes its report beside it.
# The job, the report and a JSON summary stay in OUT_DIR: they say what was closed, and
# why (each row carries the conversation's business and last activity).
#
# The job is guarded (no flag needed: select writes expect_status=open and
# expect_no_message_after=<the cut-off>), so `run` reads each conversation just before
# closing it. One that a customer wrote into since select is `changed`, not closed (it
# is not stale any more; a later night picks it up again if it goes quiet); one that
# someone closed by hand is `ok` with nothing sent. A changed row is no failure and
# needs nothing from the operator: `partoo-bulk report REPORT` lists them and why. The
# reads cost one request per row on the same quota (`partoo-bulk plan JOB` says how long).
#
# Environment (settings such as PARTOO_BASE_URL or PARTOO_RATE_PER_MINUTE work as usual):
#   STALE_DAYS    days without a message (default 30); the last message's date counts,
#                 or the creation date for a conversation without messages
#   BUSINESS      only these businesses, comma-separated (default: all the key can see)
#   OUT_DIR       where dated jobs, reports and summaries go (default ./close-stale)
#   FINISH_BY     no request starts after it (run --finish-by: HH:MM, the next such local
#                 time; an ISO 8601 time; or +DURATION); default +30m, so a night's run
#                 never runs into the working day. Empty: no window
#   METRICS_OUT   also write the run's metrics there, for node_exporter's textfile
#                 collector (a path ending in .prom; README: Metrics)
#   PARTOO_BULK   the command to call (default: the install that copied this runbook,
#                 else partoo-bulk on PATH)
#
# Output: none when every row was closed (cron mails only the nights that need a look);
# otherwise partoo-bulk's own messages. Exit code (for monitoring):
#   0   every selected conversation was closed, or rightly left alone because it changed
#       since select (`changed` rows), or none was stale
#   1   some rows failed: the report's `error` column says why
#   2   could not start (key missing, bad setting, OUT_DIR not writable): nothing sent
#   3   the listing stopped (bad key, API down; no job written, nothing sent), or the run
#       was aborted, or its FINISH_BY window closed with rows left (they are `skipped`;
#       the next night's select lists them again, or finish now:
#       partoo-bulk run JOB --report REPORT --resume --yes)
#   75  the previous night's run is still going (nothing done)
#   130 interrupted
set -euo pipefail

stale_days="${STALE_DAYS:-30}"
finish_by="${FINISH_BY-+30m}"  # unset: the default; set but empty: no window
out_dir="${OUT_DIR:-./close-stale}"
# The partoo-bulk to call: PARTOO_BULK if set (split on spaces: "python -m worker" works);
# else the install that copied this runbook (`partoo-bulk runbook install DIR` writes its
# Python's absolute path below, so cron's PATH need not hold partoo-bulk); else PATH's.
installed_python=""
if [[ -n "${PARTOO_BULK:-}" ]]; then
    read -r -a bulk <<< "$PARTOO_BULK"
elif [[ -n "$installed_python" ]]; then
    bulk=("$installed_python" -m worker)
else
    bulk=(partoo-bulk)
fi
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
job="$out_dir/close-stale-$stamp.csv"

mkdir -p "$out_dir"
if command -v flock > /dev/null; then
    # Two runs at once would share (and fight over) the organization's quota.
    exec 9> "$out_dir/.close-stale.lock"
    flock -n 9 || { echo "close-stale: the previous run is still going" >&2; exit 75; }
fi

select_args=(select --stale-days "$stale_days" --unsolved --action close --out "$job" --quiet)
if [[ -n "${BUSINESS:-}" ]]; then
    select_args+=(--business "$BUSINESS")
fi

# Quiet when all is well: cron mails whatever a job prints, so a night where every row
# was closed prints nothing (run by hand, in a terminal, it still shows what it did).
# Anything else prints the command's own messages, which say what to do.
say() {
    if (( $1 != 0 )); then
        printf '%s\n' "$2" >&2
    elif [[ -t 1 ]]; then
        printf '%s\n' "$2"
    fi
}

status=0
output="$("${bulk[@]}" "${select_args[@]}" 2>&1)" || status=$?
say "$status" "$output"
if (( status != 0 )); then
    echo "close-stale: select failed (exit $status): nothing was sent" >&2
    exit "$status"
fi
run_args=(run "$job" --yes --quiet --summary-json "${job%.csv}.summary.json")
if [[ -n "$finish_by" ]]; then
    run_args+=(--finish-by "$finish_by")
fi
if [[ -n "${METRICS_OUT:-}" ]]; then
    run_args+=(--metrics-out "$METRICS_OUT")
fi
output="$("${bulk[@]}" "${run_args[@]}" 2>&1)" || status=$?
say "$status" "$output"
exit "$status"
