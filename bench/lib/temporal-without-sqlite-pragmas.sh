#!/bin/sh
# The Temporal CLI named by TEMPORAL_WRAPPED_CLI, minus every `--sqlite-pragma <value>` argument:
# a file-backed dev server started as tools/temporal-dev-server started it before
# DEV_SERVER_SQLITE_PRAGMAS (SQLite's defaults). Section 7's "rollback journal" variants.
skip=0
for arg do
  shift
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  if [ "$arg" = --sqlite-pragma ]; then skip=1; continue; fi
  set -- "$@" "$arg"
done
exec "$TEMPORAL_WRAPPED_CLI" "$@"
