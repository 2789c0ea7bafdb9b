"""Runs schemathesis against a served markroom demo with a valid token for each role.

Started by scripts/schemathesis, which installs schemathesis in target/schemathesis-venv.
Checks: no 5xx, every status code, content type, header and body as the document says,
schema-invalid requests refused, and schema-valid requests refused only by the rules their
operation's description names (hooks.py). Exit status 0 only if every role's run passed.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARKROOM = os.path.join(ROOT, "target", "debug", "markroom")
VENV = os.path.join(ROOT, "target", "schemathesis-venv")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10")
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,coverage,fuzzing")
# A PostgreSQL server (postgres://user@host:port/db): the run then uses a fresh database of its
# own there, dropped at the end; unset, the demo's embedded SQLite.
POSTGRES = os.environ.get("SCHEMATHESIS_POSTGRES", "")
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "refused_only_as_described",
])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, path, body, token=None, key=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if key:
        headers["x-workstation-key"] = key
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def login(base, account):
    body = {k: account[k] for k in ("username", "password", "workstation_key")}
    return call(base, "/api/v1/auth/login", body)["access_token"]


def markroom_env(data_dir, database_url=None):
    # Every MARKROOM_* variable is a setting: none of the caller's may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKROOM_") and k != "DATABASE_URL"}
    env.update(MARKROOM_DATA_DIR=data_dir, MARKROOM_LOG="warn")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def fresh_database():
    """A new database on the POSTGRES server: (its URL, a function that drops it)."""
    server, _, _ = POSTGRES.rpartition("/")
    name = f"markroom_schemathesis_{os.getpid()}"
    admin = [POSTGRES, "-v", "ON_ERROR_STOP=1", "-q", "-c"]
    subprocess.run(["psql", *admin, f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", *admin, f"CREATE DATABASE {name}"], check=True)
    return f"{server}/{name}", lambda: subprocess.run(["psql", *admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])


def main():
    work = tempfile.mkdtemp(prefix="markroom-schemathesis-")
    database_url, drop = fresh_database() if POSTGRES else (None, lambda: None)
    status = 1
    try:
        status = run_all(work, markroom_env(work, database_url))
        return status
    finally:
        drop()
        # The demo's data and keys go with a run that passed; a failed run's stay to be read.
        if status == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"schemathesis: the server's log and data directory are kept in {work}", flush=True)


def run_all(work, env):
    print(f"== markroom on {'PostgreSQL' if 'DATABASE_URL' in env else 'SQLite'}", flush=True)
    demo_file = os.path.join(work, "demo.json")
    subprocess.run(
        [MARKROOM, "demo", "--markers", "8", "--candidates", "40", "--dpi", "40", "--output", demo_file],
        env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
    )
    demo = json.load(open(demo_file))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen([MARKROOM, "serve", "--bind", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=log, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/readyz")
                break
            except OSError:
                time.sleep(0.1)
        accounts = demo["accounts"]
        roles = {
            name: (login(base, accounts[key][0]), accounts[key][0]["workstation_key"])
            for name, key in [("admin", "admin"), ("chief_leader", "chief_leaders"),
                              ("custodian", "custodians"), ("marker", "markers")]
        }
        client = call(base, "/api/v1/service-clients", {"name": "Admissions (schemathesis)", "exams": [demo["exam"]]},
                      *roles["admin"])
        service = call(base, "/api/v1/auth/token",
                       {"grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"]})["access_token"]
        roles["admissions"] = (service, None)
        failed, generated = [], 0
        for role, (token, key) in roles.items():
            cmd = [
                os.path.join(VENV, "bin", "schemathesis"), "run", f"{base}/api/v1/openapi.json",
                "-H", f"Authorization: Bearer {token}",
                # Logging out would end the one token the whole run shares.
                "--exclude-path", "/api/v1/auth/logout",
                "--max-examples", MAX_EXAMPLES, "--checks", CHECKS,
                # One worker: hypothesis reads lambdas' sources with `ast`, whose recursion
                # counter Python 3.11 shares between threads (CPython gh-106905), so two
                # workers now and then fail an operation with "AST constructor recursion depth
                # mismatch", an error of the tester's, not of markroom.
                "--phases", PHASES, "--workers", "1",
                "--seed", os.environ.get("SCHEMATHESIS_SEED", "1"),
            ]
            if key:
                cmd += ["-H", f"X-Workstation-Key: {key}"]
            hooks_env = dict(os.environ, SCHEMATHESIS_HOOKS="hooks", PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
            print(f"== schemathesis as {role}", flush=True)
            run = subprocess.run(cmd, env=hooks_env, capture_output=True, text=True, cwd=work)
            out = run.stdout + run.stderr
            m = re.search(r"(\d+) generated", out)
            generated += int(m.group(1)) if m else 0
            # A run that met only the door proves nothing of the routes behind it.
            shut = re.search(r"Authentication failed: (\d+) operations", out)
            tested = re.search(r"Tested: (\d+)", out)
            if not tested or (shut and int(shut.group(1)) >= int(tested.group(1))):
                failed.append(f"{role} (reached no operation past the door)")
            if run.returncode != 0:
                failed.append(role)
                print(out)
            else:
                print("\n".join(l for l in out.splitlines() if "generated" in l or "Tested:" in l))
        print(f"schemathesis: {generated} requests over {len(roles)} roles; failed: {failed or 'none'}")
        return 1 if failed else 0
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
