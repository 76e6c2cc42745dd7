#!/bin/bash
# nbgen's stand-in: the family keeps start-notebook.sh as an alias of start-notebook.py.
exec start-notebook.py "$@"
