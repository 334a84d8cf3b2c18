#!/usr/bin/env bash
# Starts the real backends the tests use, when they are not running, and stops only
# what it started.
#   test-backends.sh start   prints the environment the tests read (eval it)
#   test-backends.sh stop
# Ports: tansu 19092, s3s-fs 19000; Redis 6379 and PostgreSQL 5432 as on the machine.
set -euo pipefail
state=${HOTLINE_BACKENDS_STATE:-$HOME/.cache/hotline/backends}
tools=${HOTLINE_TOOLS:-$HOME/.cache/hotline/tools}
export PATH="$tools/bin:$HOME/.cargo/bin:$PATH"
KAFKA_PORT=${HOTLINE_KAFKA_PORT:-19092}
S3_PORT=${HOTLINE_S3_PORT:-19000}
mkdir -p "$state"
log() { echo "test-backends: $*" >&2; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name
    for _ in $(seq 1 100); do listening "$1" && return 0; sleep 0.1; done
    log "$2 did not start listening on $1; see $state/$2.log"; return 1
}

start() {
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        log "starting redis"
        mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
        touch "$state/redis.started"
    fi
    if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
        log "starting postgresql"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
        touch "$state/postgres.started"
    fi
    if ! listening "$KAFKA_PORT"; then
        log "starting tansu on $KAFKA_PORT"
        nohup tansu broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --storage-engine memory://tansu/ >"$state/tansu.log" 2>&1 &
        echo $! >"$state/tansu.pid"
        wait_port "$KAFKA_PORT" tansu
    fi
    if ! listening "$S3_PORT"; then
        log "starting s3s-fs on $S3_PORT"
        rm -rf "$state/s3" && mkdir -p "$state/s3/hotline-test"
        nohup s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key hotline \
            --secret-key hotline-secret "$state/s3" >"$state/s3s.log" 2>&1 &
        echo $! >"$state/s3s.pid"
        wait_port "$S3_PORT" s3s
    fi
    for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
    # Databases a test could not drop (it failed or was killed) in an earlier run.
    for db in $(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
            "select datname from pg_database where datname like 'hotline_test_%'" 2>/dev/null); do
        psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
    done
    echo "export HOTLINE_TEST_KAFKA=127.0.0.1:$KAFKA_PORT"
    echo "export HOTLINE_TEST_REDIS=redis://127.0.0.1:6379"
    echo "export HOTLINE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres"
    echo "export HOTLINE_TEST_S3=http://127.0.0.1:$S3_PORT"
}

stop() {
    for p in tansu s3s; do
        if [ -f "$state/$p.pid" ]; then
            kill "$(cat "$state/$p.pid")" 2>/dev/null || true
            rm -f "$state/$p.pid"
        fi
    done
    if [ -f "$state/redis.started" ]; then
        redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true
        rm -f "$state/redis.started"
    fi
    if [ -f "$state/postgres.started" ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main stop || true
        rm -f "$state/postgres.started"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
