"""A throw-away etcd + kube-apiserver on 127.0.0.1, for one environment at a time.

    with Cluster(apiserver_bin, node_port_range=(20000, 32767)) as c:
        c.post("/api/v1/namespaces", {...})

Everything lives in a temporary directory (etcd data, certificates, the token file, the
service-account key, both processes' logs); both processes are stopped and the directory removed
on exit, whatever happened. Only 127.0.0.1 is used: free ports are taken from the kernel.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

READY_TIMEOUT = 90  # seconds; a cold start takes ~10 s on 2 cores
ETCD_TIMEOUT = 30


class ClusterError(Exception):
    pass


def _die_with_parent():
    """In the child, before exec: get SIGTERM when the harness dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


class Cluster:
    def __init__(self, apiserver_bin, etcd_bin="etcd", node_port_range=(20000, 32767),
                 feature_gates=None, keep_dir=False):
        self.apiserver_bin = apiserver_bin
        self.etcd_bin = etcd_bin
        self.node_port_range = node_port_range
        self.feature_gates = feature_gates or {}
        self.keep_dir = keep_dir
        self.procs = []
        self.dir = None
        self.session = requests.Session()
        # No proxies, no CA bundle from the environment (REQUESTS_CA_BUNDLE would override
        # `verify`): trust exactly the CA the server generates in --cert-dir (set in start()).
        self.session.trust_env = False
        self.token = secrets.token_hex(16)
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, f"{name}.log"), "wb")
        # A new session, so stop() can signal the process without touching anything else.
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        self.procs.append((name, p))
        return p

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="nbgen-apiserver-")
        d = self.dir
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = self._spawn("etcd", [
            self.etcd_bin, "--name", "nbgen-test", "--data-dir", os.path.join(d, "etcd"),
            "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"nbgen-test={peer_url}",
        ])
        self._wait(lambda: self._etcd_healthy(), ETCD_TIMEOUT, "etcd", etcd)

        key = os.path.join(d, "sa.key")
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tokens = os.path.join(d, "tokens.csv")
        with open(tokens, "w") as f:
            f.write(f'{self.token},admin,admin,"system:masters"\n')
        os.chmod(tokens, 0o600)
        certs = os.path.join(d, "certs")
        os.makedirs(certs)
        lo, hi = self.node_port_range
        argv = [
            self.apiserver_bin,
            "--etcd-servers", self.etcd_url,
            "--bind-address", "127.0.0.1",
            "--secure-port", str(api_port),
            "--insecure-port", "0",
            "--cert-dir", certs,
            "--token-auth-file", tokens,
            "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", key,
            "--service-account-signing-key-file", key,
            "--service-cluster-ip-range", "10.96.0.0/16",
            "--service-node-port-range", f"{lo}-{hi}",
        ]
        if self.feature_gates:
            argv += ["--feature-gates",
                     ",".join(f"{k}={str(v).lower()}" for k, v in sorted(self.feature_gates.items()))]
        self.url = f"https://127.0.0.1:{api_port}"
        api = self._spawn("kube-apiserver", argv)
        self._wait(lambda: self._ready(), READY_TIMEOUT, "kube-apiserver", api)

    def _etcd_healthy(self):
        try:
            return requests.get(self.etcd_url + "/health", timeout=2).ok
        except requests.RequestException:
            return False

    def _ready(self):
        # The server writes its self-signed CA + serving certificate (for 127.0.0.1) there first.
        crt = os.path.join(self.dir, "certs", "apiserver.crt")
        if not os.path.exists(crt):
            return False
        self.session.verify = crt
        try:
            return self.session.get(self.url + "/readyz", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def _wait(self, check, timeout, name, proc):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ClusterError(f"{name} exited with {proc.returncode}:\n"
                                   + tail(os.path.join(self.dir, f"{name}.log")))
            if check():
                return
            time.sleep(0.5)
        raise ClusterError(f"{name} not ready within {timeout}s:\n"
                           + tail(os.path.join(self.dir, f"{name}.log")))

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait(timeout=10)
        self.procs = []
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            print(f"    (kept {self.dir})")
        self.dir = None

    # --- HTTP --------------------------------------------------------------------------------
    def request(self, method, path, body=None, timeout=30):
        r = self.session.request(method, self.url + path, json=body, timeout=timeout)
        try:
            data = r.json()
        except ValueError:
            data = {"message": r.text}
        return r.status_code, data

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)
