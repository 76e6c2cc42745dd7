# nbgen's behavioural stand-in for the Jupyter Server configuration of the jupyter/docker-stacks
# image family (/etc/jupyter/jupyter_server_config.py), used by tests/realparts/pods when
# upstream's file is not found (tests/realparts/README.md). Written for nbgen from the family's
# documented settings: listen on every address, no browser, the port from JUPYTER_PORT.
# Not reproduced: the self-signed certificate of GEN_CERT, and every other setting of the image.
import os

c = get_config()  # noqa: F821 (defined by Jupyter when it loads this file)
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.open_browser = False
c.ServerApp.port = int(os.environ.get("JUPYTER_PORT") or 8888)
