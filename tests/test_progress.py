"""Progress bars: drawn on stderr only when it is a terminal (a real pseudo-terminal here), never in
pipes, CI logs or notebook outputs, and the summary lines on stdout stay the same either way."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from review.cli.common import ProgressBar
from review.config import settings_from_env
from review.pubmed import Eutils, esearch_sliced

ROOT = Path(__file__).parent.parent
RIS = Path(__file__).parent / "data" / "ris"
CLI = [sys.executable, "-c", "from review.cli import main; main()"]


def run_cli(args: list[str], *, tty: bool, cwd: Path) -> tuple[str, str, int]:
    """Run `review ARGS` with stderr on a pseudo-terminal (80x24, like a real one) or a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    if not tty:
        p = subprocess.run(CLI + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        return p.stdout, p.stderr, p.returncode
    master, slave = pty.openpty()
    # A fresh pty is 0x0, and tqdm draws nothing on a terminal without columns.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    p = subprocess.Popen(CLI + args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    out = p.stdout.read().decode()
    p.stdout.close()
    p.wait(timeout=120)
    return out, b"".join(chunks).decode(errors="replace"), p.returncode


def test_import_draws_a_bar_on_a_terminal_and_none_when_piped(tmp_path):
    args = ["import", str(RIS / "asreview_embase.ris"), "--source", "embase"]
    out_tty, err_tty, rc = run_cli(args + ["--db", str(tmp_path / "a.sqlite")], tty=True, cwd=tmp_path)
    assert rc == 0, err_tty
    assert "import embase:" in err_tty and "0/6" in err_tty and "rec" in err_tty
    assert err_tty.rsplit("rec/s]", 1)[1].strip(" \r") == ""  # then cleared: the summary line stands alone
    out_pipe, err_pipe, rc = run_cli(args + ["--db", str(tmp_path / "b.sqlite")], tty=False, cwd=tmp_path)
    assert rc == 0 and err_pipe == ""
    strip_run = lambda s: s.split(" [run ")[0]  # noqa: E731 - the run id holds the time
    assert strip_run(out_tty) == strip_run(out_pipe) == (
        f"{RIS / 'asreview_embase.ris'}: 6 records from embase (6 new, 0 already stored)")


def test_no_progress_on_a_terminal_and_progress_in_a_pipe(tmp_path):
    db = str(tmp_path / "s.sqlite")
    _, err, rc = run_cli(["import", str(RIS / "asreview_embase.ris"), "--source", "embase", "--db", db,
                          "--no-progress"], tty=True, cwd=tmp_path)
    assert rc == 0 and "import embase" not in err and "|" not in err
    _, err, rc = run_cli(["import", str(RIS / "asreview_scopus.ris"), "--source", "scopus", "--db", db,
                          "--progress"], tty=False, cwd=tmp_path)
    assert rc == 0 and "import scopus:" in err and "0/6" in err


def test_dedupe_and_classify_draw_bars_on_a_terminal(tmp_path):
    db = str(tmp_path / "s.sqlite")
    _, err, rc = run_cli(["import", str(RIS / "asreview_embase.ris"), str(RIS / "asreview_scopus.ris"),
                          "--source", "embase", "--db", db], tty=False, cwd=tmp_path)
    assert rc == 0 and err == ""
    out, err, rc = run_cli(["dedupe", "--db", db], tty=True, cwd=tmp_path)
    assert rc == 0 and "dedupe:" in err and "/3" in err and "phase" in err and "12 records" in out
    out, err, rc = run_cli(["classify", "--db", db], tty=True, cwd=tmp_path)
    assert rc == 0 and "classify:" in err and "rec" in err and out.startswith("classified ")
    for cmd in (["dedupe"], ["classify", "--all"]):
        _, err, rc = run_cli(cmd + ["--db", db], tty=False, cwd=tmp_path)
        assert rc == 0 and err == "", cmd


def test_progress_bar_counts_increments_and_clears_when_full(capsys):
    with ProgressBar("step", enabled=True) as bar:
        bar(0, 0)  # nothing to do: no bar at all
        assert bar.bar is None
        bar(0, 5)
        bar(2, 5)
        assert bar.bar is not None and bar.bar.n == 2
        bar(3, 5)
        assert bar.bar is None  # full: closed
    err = capsys.readouterr().err
    assert "step:" in err and "0/5" in err
    with ProgressBar("quiet") as bar:  # default: capsys's stderr is no terminal
        bar(0, 5)
        bar(5, 5)
    assert capsys.readouterr().err == ""


def test_esearch_reports_each_date_slice(eutils_server):
    eutils_server.add_replicated("big", 10_400, years=list(range(1990, 2025)))
    calls: list[tuple[int, int]] = []
    s = settings_from_env({"NCBI_EMAIL": "tester@example.org", "NCBI_EUTILS_URL": eutils_server.url,
                           "NCBI_API_KEY": "k" * 36}, backoff=0.05, timeout=5.0)
    slices = esearch_sliced(Eutils(s), "big", mindate=None, maxdate=None,
                            progress=lambda done, total: calls.append((done, total)))
    assert len(slices) > 1 and calls[0] == (0, 10_400)
    assert len(calls) == len(slices) + 1 and {t for _, t in calls} == {10_400}
    assert sum(d for d, _ in calls) == 10_400
