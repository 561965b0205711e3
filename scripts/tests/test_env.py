"""The set-up functions of scripts/env.sh, run in bash as `make test` and `make run` run them.

- ensure_odoo: with no Odoo at ODOO_SRC, a shallow clone of ODOO_REPO (here a local bare
  repository holding a stand-in Odoo: an `odoo-bin` and `addons/crm`) at the pinned commit
  into the cache, reused afterwards; an unreachable repository gives one clear paragraph.
- ensure_postgres: with nothing listening at PGHOST:PGPORT, a private cluster of Debian's
  PostgreSQL on its own port and socket, that answers queries and stops when the script ends.

Nothing here leaves 127.0.0.1: repositories are file:// URLs on this machine.
"""

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV_SH = REPO / "scripts" / "env.sh"


def bash(script, env, check=True):
    """Runs `source scripts/env.sh; <script>` in bash; returns the CompletedProcess (text)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ODOO_", "PG", "CRM_MAIL_SYNC_"))}
    full_env.update(env)
    done = subprocess.run(
        ["/bin/bash", "-c", f'source "{ENV_SH}"\n{script}'],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def closed_port():
    """A 127.0.0.1 port where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_odoo_repo(tmp_path):
    """A bare repository with a stand-in Odoo on branch 19.0; returns (file:// URL, commit)."""
    work = tmp_path / "odoo-work"
    (work / "addons" / "crm").mkdir(parents=True)
    (work / "addons" / "crm" / "__manifest__.py").write_text("{'name': 'CRM'}\n")
    (work / "odoo-bin").write_text("#!/usr/bin/env python3\nprint('stand-in odoo-bin')\n")
    git("init", "-q", "-b", "19.0", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "odoo", cwd=work)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    bare = tmp_path / "odoo.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    # GitHub serves any reachable commit by id; a local repository does when told to.
    git("config", "uploadpack.allowReachableSHA1InWant", "true", cwd=bare)
    return f"file://{bare}", commit


def test_no_odoo_at_odoo_src_fetches_the_pinned_commit_into_the_cache_once(tmp_path, fake_odoo_repo):
    url, commit = fake_odoo_repo
    cache = tmp_path / "cache"
    env = {
        "XDG_CACHE_HOME": str(cache),
        "ODOO_SRC": str(tmp_path / "no-odoo-here"),
        "ODOO_REPO": url,
        "ODOO_COMMIT": commit,
    }
    first = bash('ensure_odoo && echo "ODOO_SRC=$ODOO_SRC"', env)
    src = Path(first.stdout.split("ODOO_SRC=")[-1].strip())
    assert src.parent == cache / "crm_mail_sync"
    assert (src / "odoo-bin").is_file() and (src / "addons" / "crm").is_dir()
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=src,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert head == commit
    # Shallow: one commit, not the repository's history.
    assert (src / ".git" / "shallow").is_file()

    # Reused afterwards: with the repository gone, the next run still finds its Odoo.
    shutil.rmtree(url.removeprefix("file://"))
    again = bash('ensure_odoo && echo "ODOO_SRC=$ODOO_SRC"', env)
    assert Path(again.stdout.split("ODOO_SRC=")[-1].strip()) == src
    assert "fetching" not in again.stdout


def test_the_branch_head_is_fetched_when_no_commit_is_pinned(tmp_path, fake_odoo_repo):
    url, commit = fake_odoo_repo
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "ODOO_SRC": str(tmp_path / "no-odoo-here"),
        "ODOO_REPO": url,
        "ODOO_COMMIT": "",
    }
    done = bash('ensure_odoo && git -C "$ODOO_SRC" rev-parse HEAD', env)
    assert done.stdout.strip().splitlines()[-1] == commit


def test_an_unreachable_repository_says_what_failed_and_how_to_provide_odoo(tmp_path):
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "ODOO_SRC": str(tmp_path / "no-odoo-here"),
        "ODOO_REPO": f"file://{tmp_path}/nowhere.git",
    }
    done = bash('rc=0; ensure_odoo || rc=$?; echo "rc=$rc ODOO_SRC=$ODOO_SRC"', env)
    assert f"rc=1 ODOO_SRC={tmp_path}/no-odoo-here" in done.stdout
    message = " ".join(done.stderr.split())
    assert f"fetching Odoo 19.0 from file://{tmp_path}/nowhere.git failed" in message
    assert "ODOO_SRC=" in message and "ODOO_REPO" in message
    assert not list((tmp_path / "cache" / "crm_mail_sync").glob("odoo-*/odoo-bin"))


def test_the_real_odoo_at_odoo_src_is_used_as_it_is(tmp_path):
    odoo = tmp_path / "odoo"
    (odoo / "addons" / "crm").mkdir(parents=True)
    (odoo / "odoo-bin").write_text("")
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "ODOO_SRC": str(odoo),
        "ODOO_REPO": f"file://{tmp_path}/nowhere.git",
    }
    done = bash('ensure_odoo && echo "ODOO_SRC=$ODOO_SRC"', env)
    assert done.stdout.strip() == f"ODOO_SRC={odoo}"


def test_no_postgresql_at_the_configured_port_starts_a_private_cluster_stopped_at_exit(tmp_path):
    port = closed_port()
    private_port = closed_port()
    # As root the cluster runs as `postgres`, which must reach its directory: /tmp, not tmp_path.
    pg_dir = Path("/tmp") / f"crm_mail_sync-pgtest-{uuid.uuid4().hex[:12]}"
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PGHOST": "127.0.0.1",
        "PGPORT": str(port),
        "CRM_MAIL_SYNC_PG_PORT": str(private_port),
        "CRM_MAIL_SYNC_PG_DIR": str(pg_dir),
    }
    try:
        done = bash(
            'ensure_postgres && echo "PGPORT=$PGPORT" '
            '&& psql -d postgres -Atc "select 40 + 2" && createdb scripts_test && dropdb scripts_test',
            env,
        )
        assert f"PGPORT={private_port}" in done.stdout
        assert "\n42\n" in done.stdout
        assert (pg_dir / "data" / "PG_VERSION").is_file()
        # Its own socket directory, not the system's.
        assert (pg_dir / "socket" / f".s.PGSQL.{private_port}").exists() is False  # stopped by now
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", private_port), timeout=3).close()

        # The second run reuses the cluster (no new initdb) and starts it again.
        again = bash('ensure_postgres && psql -d postgres -Atc "select 1"', env)
        assert again.stdout.strip().endswith("1")
    finally:
        # In case an assertion stopped the test with the cluster running.
        stop = f'd="{pg_dir}/data"; [ -f "$d/postmaster.pid" ] && '
        stop += 'if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$(find_pg_bin)/pg_ctl" -D "$d" stop; '
        stop += 'else "$(find_pg_bin)/pg_ctl" -D "$d" stop; fi'
        bash(stop, env, check=False)
        shutil.rmtree(pg_dir, ignore_errors=True)
        Path(f"{pg_dir}.initdb.log").unlink(missing_ok=True)


def test_a_postgresql_that_answers_is_used_as_it_is(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PGHOST": "127.0.0.1", "PGPORT": str(port)}
        done = bash('ensure_postgres && echo "PGPORT=$PGPORT"', env)
    assert done.stdout.strip() == f"PGPORT={port}"
