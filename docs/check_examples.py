"""Run every example of a markdown file and compare (or --fill) the shown output.

Usage (from the repository root, after `make demo`):

    .venv/bin/python docs/check_examples.py README.md /tmp/readme-examples
    .venv/bin/python docs/check_examples.py docs/language.md /tmp/language-examples
    .venv/bin/python docs/check_examples.py docs/language.md /tmp/x --fill   # rewrite outputs

The second argument is a scratch directory (it is deleted and recreated).

Conventions in the markdown:
  <!-- file: NAME -->   followed by a fenced block: the block is written to NAME
  ```console blocks: lines starting with "$ " are commands; the lines after a
  command up to the next command are its expected output (stdout+stderr).
  `diagalg` and `python` are the project's venv binaries; `echo $?` prints the
  previous command's exit status.
"""

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".venv" / "bin"


def blocks(lines):
    i = 0
    pending_file = None
    while i < len(lines):
        m = re.match(r"<!-- file: (\S+) -->", lines[i].strip())
        if m:
            pending_file = m.group(1)
            i += 1
            continue
        if lines[i].startswith("```"):
            lang = lines[i][3:].strip()
            start = i + 1
            j = start
            while not lines[j].startswith("```"):
                j += 1
            yield (lang, pending_file, start, j)
            pending_file = None
            i = j + 1
            continue
        i += 1


#: A command with none of these is a plain `diagalg ARGS` call and runs in this process.
_SHELL = set("|<>&;$`*?(){}")


def run_in_process(cmd, work):
    """Run a plain ``diagalg ARGS`` command through ``diagalg.cli.main`` in this process,
    stdout and stderr into one stream as ``2>&1`` gives them (64 commands each paying
    the interpreter's start-up were most of the docs tests' time). None when ``cmd`` is
    not plain, or diagalg is not importable here (the caller then uses a shell)."""
    args = shlex.split(cmd)
    if not args or args[0] not in ("diagalg", ".venv/bin/diagalg") or _SHELL & set(cmd):
        return None
    try:
        from diagalg.cli import main as diagalg_main
    except ImportError:
        return None
    out = io.StringIO()
    old = os.getcwd()
    try:
        os.chdir(work)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                code = diagalg_main(args[1:])
            except SystemExit as e:  # argparse: --help, --version, usage errors
                code = e.code if isinstance(e.code, int) else 0
    finally:
        os.chdir(old)
    return out.getvalue(), code


#: Figures that change from run to run (wall times): compared as "some number".
_VOLATILE = re.compile(r'("seconds": )[0-9.e+-]+|\(\d+\.\d\d s\)')

#: A floating-point round-off figure (``numeric 4e-16``, ``reassembles to 2e-15``): any
#: number of size 1e-12 or less in scientific notation. Its digits depend on the BLAS
#: kernel the CPU selects (an AVX-512 machine prints 2e-16 where another prints 4e-16),
#: so documents compare it as "round-off", not digit for digit.
#: A residual that is exactly 0 on one machine may be 1e-17 on another, too.
ROUNDOFF = re.compile(r"(?<![\d.])\d(?:\.\d+)?e-(?:1[2-9]|[2-9]\d|\d{3})(?![\d.])")
_ZERO_RESIDUAL = re.compile(r"((?:numeric|max error|differ by) )0(?![\d.e])")


def masked_roundoff(text):
    """``text`` with every round-off figure replaced by ``~``."""
    return ROUNDOFF.sub("~", _ZERO_RESIDUAL.sub(r"\1~", text))


def _comparable(text):
    return masked_roundoff(_VOLATILE.sub(lambda m: (m.group(1) or "") + "#", text))


def run(cmd, work, last):
    if cmd.strip() == "echo $?":
        return f"{last}\n", 0
    done = run_in_process(cmd, work)
    if done is not None:
        return done
    c = cmd
    c = re.sub(r"^diagalg\b", str(VENV / "diagalg"), c)
    c = re.sub(r"^\.venv/bin/diagalg\b", str(VENV / "diagalg"), c)
    c = re.sub(r"^python\b", str(VENV / "python"), c)
    c = re.sub(r"^\.venv/bin/python\b", str(VENV / "python"), c)
    p = subprocess.run(["bash", "-c", c + " 2>&1"], cwd=work, capture_output=True, text=True)
    return p.stdout, p.returncode


def main():
    args = [a for a in sys.argv[1:] if a != "--fill"]
    if len(args) != 2:
        print(
            "usage: python docs/check_examples.py FILE.md SCRATCH_DIR [--fill]\n"
            "  reruns every console example of FILE.md in SCRATCH_DIR (deleted and recreated) and\n"
            "  compares the output with what FILE.md shows; --fill writes the outputs instead",
            file=sys.stderr,
        )
        return 2
    md = Path(args[0])
    fill = "--fill" in sys.argv
    work = Path(args[1])
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    lines = md.read_text().split("\n")
    out_lines = list(lines)
    replacements = []
    bad = 0
    for lang, fname, start, end in blocks(lines):
        body = lines[start:end]
        if fname:
            p = work / fname
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("\n".join(body) + "\n")
            continue
        if lang != "console":
            continue
        new = []
        last = 0
        k = 0
        while k < len(body):
            if not body[k].startswith("$ "):
                k += 1
                continue
            cmd = body[k][2:]
            k2 = k + 1
            while k2 < len(body) and not body[k2].startswith("$ "):
                k2 += 1
            expected = "\n".join(body[k + 1 : k2])
            got, last = run(cmd, work, last)
            got = got.rstrip("\n")
            if _comparable(got) != _comparable(expected):
                bad += 1
                print(f"--- {md}:{start + k + 1}: $ {cmd}\n expected:\n{expected}\n got:\n{got}\n")
            else:
                got = expected  # --fill keeps the shown digits where only round-off differs
            new.append(body[k])
            if got:
                new.extend(got.split("\n"))
            k = k2
        replacements.append((start, end, new))
    if fill:
        for start, end, new in reversed(replacements):
            out_lines[start:end] = new
        md.write_text("\n".join(out_lines))
    print(f"{md}: {len(replacements)} console blocks, {bad} mismatches")
    return 1 if bad and not fill else 0


if __name__ == "__main__":
    sys.exit(main())
