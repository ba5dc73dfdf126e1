#!/usr/bin/env bash
# Runbook for an agent who leaves: deal their conversations out to the team, evenly.
#
#   PARTOO_API_KEY=... jobs/reassign-leaver.sh LEAVER_ID ID1,ID2,ID3 [select flags...]
#   e.g. ... jobs/reassign-leaver.sh 62d80fae74e8b11d700302b8 62d8...b9,63a1...f1 --unsolved
#
# Step 1, `select`: every conversation assigned to LEAVER_ID (add --unsolved to leave the
# solved ones alone, --business to limit it) is written to a job file, assigned in turn
# to ID1, ID2, ID3: shares differ by one at most, and the same list gives the same file.
# It shows how many each user gets. Nothing is changed.
# Step 2, `run`: shows the plan and asks before sending (answer on the terminal). Read
# or edit the job file first if you like: it is a CSV with the current assignee, the
# business and the last activity of each conversation.
# Every row expects the leaver as the assignee still (expect_assignee, written by
# select): a conversation a colleague took by hand between select and run is not sent;
# it keeps the hand-made assignee and is `changed` in the report, with who has it now.
# Nothing to do for it, unless that colleague is leaving too.
#
# Step 3, `verify`: reads every changed conversation back and says which do not hold the
# new assignee (someone changed them since, or the change did not hold).
# Roll back: select also wrote JOB.undo.csv (each conversation's assignee before); if it
# was the wrong change, `partoo-bulk run JOB.undo.csv` puts every conversation back,
# except one that someone re-assigned since (each undo row expects the new assignee):
# that one is `changed` and stays as that person left it.
#
# Do it while the leaver's account still exists in Partoo, so that no conversation is
# left with an assignee nobody watches. A team member must be active, human and have
# access to the conversation's business: rows the API refuses are `failed` in the
# report; fix them by hand or with another job.
#
# Environment: OUT_DIR (default .), PARTOO_BULK (default: the install that copied this
# runbook, else partoo-bulk on PATH), PARTOO_* settings,
# ASSUME_YES=1 to send without asking (an unattended runbook).
# Exit code: select's if it fails (2 nothing sent, 3 listing stopped), else run's, else
# verify's (1: some conversations do not hold their new assignee).
set -euo pipefail

if (( $# < 2 )); then
    echo "usage: $0 LEAVER_ID ID1,ID2,... [select flags, e.g. --unsolved --business 4101]" >&2
    exit 2
fi
leaver="$1" team="$2"
shift 2
out_dir="${OUT_DIR:-.}"
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
stem="$out_dir/reassign-$leaver-$(date -u +%Y%m%dT%H%M%SZ)"
job="$stem.csv" undo="$stem.undo.csv" report="$stem.report.csv"

status=0
"${bulk[@]}" select --assigned-to "$leaver" --assign-round-robin "$team" --out "$job" \
    --undo-out "$undo" "$@" || status=$?
if (( status != 0 )); then
    echo "reassign-leaver: select failed (exit $status): nothing was sent" >&2
    exit "$status"
fi
echo "reassign-leaver: job written to $job; sending it" >&2
run_flags=()
[[ "${ASSUME_YES:-}" == 1 ]] && run_flags+=(--yes)
"${bulk[@]}" run "$job" --report "$report" "${run_flags[@]}" || status=$?
if (( status != 0 && status != 1 )); then
    exit "$status"  # not started (2), aborted (3: finish with --resume) or interrupted
fi
echo "reassign-leaver: checking that the conversations hold their new assignee" >&2
"${bulk[@]}" verify "$report" || status=$?
echo "reassign-leaver: to roll back: ${bulk[*]} run $undo --yes" >&2
exit "$status"
