#!/usr/bin/env python3
"""extract_blocks.py - the shell examples of Markdown files, for
test_docs_examples.sh to run.

Usage: extract_blocks.py OUT_DIR FILE.md...

A shell example is a fenced block whose info string starts with sh, bash,
shell or console, or a hidden one: an HTML comment

    <!-- docs-test: run
    commands a reader need not see (a check after an example)
    -->

The line right before a fence (blank lines between are allowed) may mark it:

    <!-- docs-test: skip (why it cannot run in a test) -->
    <!-- docs-test: postgres -->   (runs only against a test PostgreSQL;
                                    its postgres:// URLs are replaced)

A block with `$ ` prompts is a transcript: only the prompted lines (and
their continuation lines) run; the others are its output. Output lines
become blank lines, so a script's line N is always the Markdown's line
first_line + N - 1.

Writes OUT_DIR/NNN.sh per block and prints one line per block, its
fields split by the byte 0x1f (a reason may be empty, which tabs would
lose to `read`): file, fence line, kind (run, hidden, postgres, skip),
reason, script path, first line. Exits 2 (with the file and line) on a marker
without a reason, a marker followed by no shell block, or an unclosed
fence.
"""
import os
import re
import sys

SHELL_LANGS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
HIDDEN_START = re.compile(r"^\s*<!--\s*docs-test:\s*run\s*$")


def fail(path, line, message):
    print(f"{path}:{line}: {message}", file=sys.stderr)
    sys.exit(2)


def parse_marker(path, number, text):
    """(kind, reason) of a one-line marker's text."""
    if text == "postgres":
        return "postgres", ""
    found = re.fullmatch(r"skip\s*\((.+)\)", text)
    if found:
        return "skip", found.group(1).strip()
    fail(path, number, f'unknown docs-test marker "{text}" '
         '(expected "skip (reason)", "postgres" or "run" ... "-->")')


def script_lines(lines):
    """The block's lines as a script: a transcript keeps only its commands."""
    if not any(line.startswith("$ ") or line == "$" for line in lines):
        return lines
    out = []
    continuing = False
    for line in lines:
        if line.startswith("$ ") or line == "$":
            command = line[2:]
        elif continuing:
            command = line
        else:
            out.append("")  # output of the command before
            continue
        out.append(command)
        continuing = command.rstrip().endswith("\\")
    return out


def blocks_of(path):
    """Yield (fence line, kind, reason, first line, lines) of each shell block."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read().split("\n")
    marker = None  # (kind, reason, line) waiting for its block
    i = 0
    while i < len(text):
        line = text[i]
        number = i + 1
        if HIDDEN_START.match(line):
            end = i + 1
            while end < len(text) and text[end].strip() != "-->":
                end += 1
            if end == len(text):
                fail(path, number, "docs-test: run without its closing -->")
            yield number, "hidden", "", number + 1, text[i + 1:end]
            i = end + 1
            continue
        found = MARKER.match(line)
        if found:
            if marker:
                fail(path, marker[2], "docs-test marker followed by no shell block")
            kind, reason = parse_marker(path, number, found.group(1))
            marker = (kind, reason, number)
            i += 1
            continue
        fence = FENCE.match(line)
        if fence:
            indent, ticks, info = fence.groups()
            end = i + 1
            while end < len(text):
                closing = FENCE.match(text[end])
                if closing and closing.group(2)[0] == ticks[0] and \
                        len(closing.group(2)) >= len(ticks) and not closing.group(3).strip():
                    break
                end += 1
            if end == len(text):
                fail(path, number, "fence never closed")
            lang = info.strip().split(" ")[0].lower() if info.strip() else ""
            body = [l[len(indent):] if l.startswith(indent) else l for l in text[i + 1:end]]
            if lang in SHELL_LANGS:
                kind, reason = ("run", "") if not marker else marker[:2]
                yield number, kind, reason, number + 1, body
                marker = None
            elif marker:
                fail(path, marker[2], "docs-test marker followed by a block that is not shell")
            i = end + 1
            continue
        if marker and line.strip():
            fail(path, marker[2], "docs-test marker followed by no shell block")
        i += 1
    if marker:
        fail(path, marker[2], "docs-test marker followed by no shell block")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out_dir = sys.argv[1]
    count = 0
    for path in sys.argv[2:]:
        for fence_line, kind, reason, first_line, lines in blocks_of(path):
            count += 1
            script = os.path.join(out_dir, f"{count:03d}.sh")
            with open(script, "w", encoding="utf-8") as handle:
                handle.write("\n".join(script_lines(lines)) + "\n")
            print("\x1f".join([path, str(fence_line), kind, reason, script, str(first_line)]))


if __name__ == "__main__":
    main()
