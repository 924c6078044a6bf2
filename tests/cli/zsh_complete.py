#!/usr/bin/env python3
"""
zsh_complete.py - the zsh completion script (`importq completion zsh`)
completing real command lines in a real zsh: an interactive `zsh -f` on a
pseudo-terminal loads the script from $fpath through compinit, is sent a
line and a TAB, and prints each candidate its completion functions add
(compadd is wrapped to print them between two NUL lines, then the shell
exits). Each case checks the candidates it must, and must not, offer.

Usage: zsh_complete.py _IMPORTQ FILES_DIR   (exit 0 when all hold; else the reasons)
FILES_DIR holds users.csv and users.json (file completion). Waits are
bounds on a hang (20 s), not speed checks.
"""
import os
import pty
import select
import shutil
import sys
import tempfile
import time

BOUND_S = 20.0

ZSHRC = r"""
fpath=(%(fpath)s $fpath)
autoload -U compinit && compinit -u -D
bindkey '^I' complete-word
null-line() { print -n $'\0\n' }
compprefuncs=(null-line)
comppostfuncs=(null-line exit)
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd() {
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return $?
    fi
    typeset -a __hits
    builtin compadd -A __hits "$@"
    local hit
    for hit in $__hits; do print -r -- "<<$hit>>"; done
    builtin compadd "$@"
}
"""

# (line typed before TAB, candidates that must be offered, candidates that must not)
CASES = [
    ("importq imp", ["import"], ["serve"]),
    ("importq import x.csv --mo", ["--mode"], ["--tls-key"]),
    ("importq import x.csv --mode ", ["insert", "upsert", "append", "replace"], []),
    ("importq import x.csv --mode=", ["insert", "upsert", "append", "replace"], []),
    ("importq token create --role ", ["viewer", "operator", "admin"], []),
    ("importq serve --tls-k", ["--tls-key"], []),
    ("importq status --", ["--server", "--token", "--json"], ["--db", "--tls-key"]),
    ("importq import ", ["users.csv", "users.json"], []),
    ("importq token ", ["create", "list", "revoke"], []),
    ("importq help im", ["import"], []),
]


def complete(script_dir, files_dir, home, line):
    """The candidates zsh offers for line + TAB, or None when it hung."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(files_dir)
        env = {"HOME": home, "ZDOTDIR": home, "TERM": "dumb", "PATH": os.environ["PATH"]}
        os.execvpe("zsh", ["zsh", "-i"], env)
    seen = b""
    os.write(fd, line.encode() + b"\t")
    end = time.time() + BOUND_S
    while seen.count(b"\0") < 2 and time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    if seen.count(b"\0") < 2:
        return None
    text = seen.split(b"\0")[1].decode(errors="replace")
    return {part.split(">>")[0] for part in text.split("<<")[1:]}


def main():
    script, files_dir = sys.argv[1], sys.argv[2]
    home = tempfile.mkdtemp(prefix="importq-zsh-")
    try:
        script_dir = os.path.join(home, "functions")
        os.mkdir(script_dir)
        shutil.copy(script, os.path.join(script_dir, "_importq"))
        with open(os.path.join(home, ".zshrc"), "w") as rc:
            rc.write(ZSHRC % {"fpath": script_dir})
        problems = []
        for line, wanted, unwanted in CASES:
            got = complete(script_dir, files_dir, home, line)
            if got is None:
                problems.append(f"{line!r}: zsh printed no candidates within {BOUND_S:.0f} s")
                continue
            missing = [w for w in wanted if w not in got]
            extra = [u for u in unwanted if u in got]
            if missing or extra:
                problems.append(f"{line!r}: got {sorted(got)}; missing {missing}, unwanted {extra}")
        for p in problems:
            print(p)
        return 1 if problems else 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
