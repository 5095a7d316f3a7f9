#!/usr/bin/env bash
# Makes sure a Redis server answers on 127.0.0.1:6379 (the sign-in throttle's
# shared counters): starts one if none answers, installs Debian's package if
# there is none. No persistence: tests need none.
set -euo pipefail

ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! ready; then
	if ! command -v redis-server >/dev/null 2>&1; then
		echo "installing Redis from Debian's packages"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
	fi
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
	for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
ready || { echo "Redis did not start on 127.0.0.1:6379"; exit 1; }
redis-cli -h 127.0.0.1 -p 6379 info server | grep redis_version
