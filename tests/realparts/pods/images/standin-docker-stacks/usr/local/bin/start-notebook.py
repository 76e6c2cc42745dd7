#!/usr/bin/env python3
"""nbgen's behavioural stand-in for the CMD of the jupyter/docker-stacks image family, used by
tests/realparts/pods when upstream's scripts are not found (tests/realparts/README.md). Written
for nbgen from the family's documented behaviour; it is not upstream's script.

It execs `jupyter <DOCKER_STACKS_JUPYTER_CMD, default lab>`, then the words of $NOTEBOOK_ARGS
(split as a POSIX shell would), then its own arguments.

Not reproduced, and said when asked for: RESTARTABLE=yes (the image restarts the server when it
exits; here it runs once) and the hand-over to the JupyterHub single-user server when
JUPYTERHUB_API_TOKEN is set.
"""
import os
import shlex
import sys


def say(msg):
    print("[nbgen stand-in start-notebook.py] " + msg, file=sys.stderr, flush=True)


def main():
    sub = os.environ.get("DOCKER_STACKS_JUPYTER_CMD") or "lab"
    words = ["jupyter", sub] + shlex.split(os.environ.get("NOTEBOOK_ARGS", "")) + sys.argv[1:]
    if os.environ.get("RESTARTABLE") == "yes":
        say("RESTARTABLE=yes is not reproduced: the server runs once, without restarts")
    if os.environ.get("JUPYTERHUB_API_TOKEN"):
        say("JUPYTERHUB_API_TOKEN is set: the JupyterHub single-user start is not reproduced")
    say("exec " + shlex.join(words))
    os.execvp(words[0], words)


if __name__ == "__main__":
    main()
