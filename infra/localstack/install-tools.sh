#!/usr/bin/env bash
# Installs one of the pinned local tools for `make tools`, saying what it
# installs, about how long that takes, and how long it took, with one line per
# package or file as it goes: readable on a terminal and short enough for CI
# logs (no progress bars, no per-chunk transfer lines).
#
# Usage: install-tools.sh venv PYTHON VENV REQUIREMENTS CONSTRAINTS
#        install-tools.sh dynamodb M2_REPO POM
#
#   venv      a Python venv with moto and the AWS SAM CLI from PyPI
#   dynamodb  DynamoDB Local and its native SQLite library from Maven Central
set -euo pipefail

say() { printf 'tools: %s\n' "$*"; }

# pip's output, one short line per package it fetches (the file and its size)
# and one when it installs them; errors and warnings (stderr) pass through.
pip_lines() {
	awk '
		/^ *(Downloading|Using cached) / && / \([0-9.]+ [kMG]?B\)$/ {
			what = ($1 == "Using") ? "cached " : ""
			print "  pip: " what $(NF-2) " " $(NF-1) " " $NF; fflush(); next
		}
		/^Installing collected packages:/ {
			n = split(substr($0, index($0, ":") + 2), pkgs, ", ")
			print "  pip: installing " n " packages (unpacking and compiling; the longest part)"; fflush(); next
		}
		/^Successfully installed/ { print "  pip: installed " (NF - 2) " packages"; fflush(); next }
	'
}

# Maven's batch output, one line per downloaded jar or native library plus any warning or
# error; the [INFO] chatter and the per-file "Downloading from" lines go.
mvn_lines() {
	sed -u 's/\x1b\[[0-9;]*m//g' | awk '
		/Downloaded from [^ ]+: [^ ]+\.(jar|so|dylib|dll) \(/ {
			file = $0; sub(/ \(.*/, "", file); sub(/.*\//, "", file)
			size = $0; sub(/.*\.(jar|so|dylib|dll) \(/, "", size); sub(/ at .*/, "", size); sub(/\)$/, "", size)
			print "  mvn: downloaded " file " (" size ")"; fflush(); next
		}
		/^\[(ERROR|WARNING)\]/ || /BUILD FAILURE/ { print; fflush() }
	'
}

case "${1:-}" in
venv)
	(($# == 5)) || { echo "usage: $0 venv PYTHON VENV REQUIREMENTS CONSTRAINTS" >&2; exit 2; }
	python="$2" venv="$3" requirements="$4" constraints="$5"
	start=$SECONDS
	say "[1/2] moto and the AWS SAM CLI from PyPI into $venv (about 100 pinned packages, 2 to 4 minutes)"
	rm -rf "$venv"
	"$python" -m venv "$venv"
	# Unbuffered, so that each line shows as pip gets there, not in blocks.
	PYTHONUNBUFFERED=1 "$venv/bin/python" -m pip install --no-input --disable-pip-version-check --progress-bar off \
		-r "$requirements" -c "$constraints" | pip_lines
	say "[1/2] done in $((SECONDS - start)) s: $("$venv/bin/sam" --version)"
	;;
dynamodb)
	(($# == 3)) || { echo "usage: $0 dynamodb M2_REPO POM" >&2; exit 2; }
	m2="$2" pom="$3"
	start=$SECONDS
	say "[2/2] DynamoDB Local from Maven Central (Maven, its plugins and about 70 MB of jars, about a minute)"
	mvn --batch-mode -Dstyle.color=never "-Dmaven.repo.local=$m2" -f "$pom" dependency:copy-dependencies 2>&1 | mvn_lines
	say "[2/2] done in $((SECONDS - start)) s"
	;;
*)
	echo "usage: $0 venv PYTHON VENV REQUIREMENTS CONSTRAINTS | dynamodb M2_REPO POM" >&2
	exit 2
	;;
esac
