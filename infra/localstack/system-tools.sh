#!/usr/bin/env bash
# Installs, from Debian's packages, what the local stack needs from the system
# and does not find: Java 17 or later (DynamoDB Local 3.x), Maven (fetches
# DynamoDB Local), curl (stack.sh's health checks), Python's venv module, and
# Chromium with the Liberation fonts (the portal's browser test and its
# screenshots). Does nothing when all of them are there.
#
# Usage: system-tools.sh [python]    (python defaults to python3)
set -euo pipefail

python="${1:-python3}"

java_major() {
	java -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\).*/\1/p' | head -n 1
}

java_ok() {
	local v
	v="$(java_major 2>/dev/null || true)"
	[[ -n $v ]] && ((v >= 17))
}

missing=()
java_ok || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl)
"$python" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v chromium >/dev/null || missing+=(chromium)
[[ -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ]] || missing+=(fonts-liberation)

if ((${#missing[@]} == 0)); then
	exit 0
fi

command -v apt-get >/dev/null || {
	echo "tools: missing ${missing[*]}; install them with your package manager" >&2
	exit 1
}
sudo=()
if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
echo "tools: installing ${missing[*]} with apt-get" >&2
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

if ! java_ok; then
	echo "tools: 'java' on PATH is $(java_major || echo missing), DynamoDB Local needs 17 or later;" \
		"put a Java 17 bin folder first on PATH (Debian: /usr/lib/jvm/java-17-openjdk-amd64/bin)" >&2
	exit 1
fi
