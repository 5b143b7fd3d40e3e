#!/bin/sh
# Container and systemd entry point: bring the schema to the newest migration, then serve.
# exec, so SIGTERM from docker/systemd reaches hrbot itself and it drains and exits 0.
# HRBOT names the command (default: the installed `hrbot`).
set -eu
HRBOT="${HRBOT:-hrbot}"
$HRBOT db upgrade
exec $HRBOT serve "$@"
