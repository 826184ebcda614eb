#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compile (and run) every C snippet of README.md and of the public headers.

README.md: every ```c block must be preceded by a marker line
    <!-- snippet: NAME MODE -->
with MODE `compile` (compiled to an object) or `run` (linked against the
library and executed; it must exit 0).  The block is written to
OUT/NAME.snippet.c (with a #line directive pointing back at README.md) and
compiled through the harness tests/snippets/NAME.c, which includes it with
`#include SMR_SNIPPET` between the scaffolding it needs (the helpers the
snippet calls, and for `run` a main that exercises it).

Headers: the usage example at the top of include/smr/X.h (the indented
lines of the opening comment, between `clang-format off` and `on`) goes
through tests/snippets/header_X.c the same way, compile-only unless the
harness has the line `/* snippet: run */`.  An example that opens with
file-scope definitions (a leading run of `static` functions and objects, as
the type callbacks of smr/rc.h) is split: those go to OUT/NAME.decls.c, named
by SMR_SNIPPET_DECLS for the harness to include at file scope, the rest to
SMR_SNIPPET as usual (SMR_SNIPPET_DECLS names an empty file when there are
none).

A block without a marker, a marker without a harness, or a harness whose
snippet is gone is an error, so snippets cannot be added or removed
untested.

usage: check_snippets.py --src DIR --out DIR --cc CC [--lib LIB] [--cflags=F]
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

MARK = re.compile(r'^<!--\s*snippet:\s*([A-Za-z0-9_]+)\s+(compile|run)\s*-->\s*$')


def readme_snippets(path):
    lines = open(path, encoding='utf-8').read().split('\n')
    out, errors = [], []
    i = 0
    while i < len(lines):
        if lines[i].strip() == '```c':
            m = MARK.match(lines[i - 1]) if i > 0 else None
            j = i + 1
            while j < len(lines) and lines[j].strip() != '```':
                j += 1
            if not m:
                errors.append('%s:%d: ```c block without a '
                              '<!-- snippet: NAME compile|run --> line before it'
                              % (path, i + 1))
            else:
                out.append((m.group(1), m.group(2), i + 2, lines[i + 1:j]))
            i = j
        i += 1
    return out, errors


def header_snippet(path):
    """The indented example lines of the header's opening comment."""
    lines = open(path, encoding='utf-8').read().split('\n')
    # The marker opens the file (after the SPDX line, if any).
    if not any('clang-format off' in l for l in lines[:2]):
        return None
    start = end = None
    for n, line in enumerate(lines):
        if 'clang-format on' in line:
            break
        if line.startswith(' *   '):
            if start is None:
                start = n
            end = n
        elif start is not None and line.rstrip() not in (' *', ''):
            break
    if start is None:
        return None
    return start + 1, [l[5:] if l.startswith(' *   ') else ''
                       for l in lines[start:end + 1]]


def split_decls(body):
    """The number of leading lines of a header example that are file-scope
    definitions: a run of items that each open with `static` at the left
    margin and end, at brace depth 0, with `;` or `}`."""
    n = depth = 0
    item = False
    for i, line in enumerate(body):
        code = re.sub(r'//.*', '', line).rstrip()
        if depth == 0 and not item:
            if not code.startswith('static '):
                break
            item = True
        depth += code.count('{') - code.count('}')
        if depth == 0 and code.endswith((';', '}')):
            item = False
            n = i + 1
    return n


RUN_MARK = re.compile(r'^/\*\s*snippet:\s*run\s*\*/\s*$', re.M)


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, **kw)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--cc', required=True)
    ap.add_argument('--lib', default='')
    ap.add_argument('--cflags', default='')
    a = ap.parse_args()
    src, out = os.path.abspath(a.src), os.path.abspath(a.out)
    hdir = os.path.join(src, 'tests', 'snippets')
    os.makedirs(out, exist_ok=True)

    readme = os.path.join(src, 'README.md')
    snippets, errors = readme_snippets(readme)
    jobs = [(n, mode, readme, line, body) for n, mode, line, body in snippets]
    incdir = os.path.join(src, 'include', 'smr')
    for h in sorted(os.listdir(incdir)):
        if h.endswith('.h'):
            r = header_snippet(os.path.join(incdir, h))
            if r:
                name = 'header_' + h[:-2]
                harness = os.path.join(hdir, name + '.c')
                mode = 'compile'
                if (os.path.exists(harness) and
                        RUN_MARK.search(open(harness, encoding='utf-8').read())):
                    mode = 'run'
                jobs.append((name, mode, os.path.join(incdir, h), r[0], r[1]))
    names = [j[0] for j in jobs]
    for n in set(names):
        if names.count(n) > 1:
            errors.append('snippet name %s used twice' % n)
    for f in sorted(os.listdir(hdir)):
        if f.endswith('.c') and f[:-2] not in names:
            errors.append('%s: harness of a snippet that no longer exists'
                          % os.path.join(hdir, f))

    flags = ['-std=c11', '-Wall', '-Wextra', '-Wpedantic', '-Werror',
             '-I' + os.path.join(src, 'include')] + shlex.split(a.cflags)
    ok = 0
    for name, mode, origin, line, body in jobs:
        harness = os.path.join(hdir, name + '.c')
        if not os.path.exists(harness):
            errors.append('%s:%d: snippet %s has no harness %s'
                          % (origin, line, name, harness))
            continue
        defines, sline = [], line
        if origin != readme:
            nd = split_decls(body)
            decls = os.path.join(out, name + '.decls.c')
            with open(decls, 'w', encoding='utf-8') as f:
                f.write('#line %d "%s"\n' % (line, origin))
                f.write(''.join(l + '\n' for l in body[:nd]))
            defines.append('-DSMR_SNIPPET_DECLS="%s"' % decls)
            sline, body = line + nd, body[nd:]
        snip = os.path.join(out, name + '.snippet.c')
        with open(snip, 'w', encoding='utf-8') as f:
            f.write('#line %d "%s"\n' % (sline, origin))
            f.write('\n'.join(body) + '\n')
        defines.append('-DSMR_SNIPPET="%s"' % snip)
        if mode == 'compile' or not a.lib:
            cmd = [a.cc] + flags + defines + ['-c', harness, '-o',
                                              os.path.join(out, name + '.o')]
        else:
            exe = os.path.join(out, name)
            cmd = [a.cc] + flags + defines + [harness, a.lib, '-pthread',
                                              '-o', exe]
        rc, text = run(cmd)
        if rc != 0:
            errors.append('%s:%d: snippet %s does not compile:\n%s'
                          % (origin, line, name, text))
            continue
        if mode == 'run' and a.lib:
            try:
                rc, text = run([exe], timeout=60, cwd=out)
            except subprocess.TimeoutExpired:
                rc, text = -1, 'timed out after 60 s'
            if rc != 0:
                errors.append('%s:%d: snippet %s: exit status %d\n%s'
                              % (origin, line, name, rc, text))
                continue
        print('ok   %-20s %s (%s:%d)' % (name, mode, os.path.relpath(origin, src),
                                       line))
        ok += 1
    for e in errors:
        print('FAIL ' + e, file=sys.stderr)
    print('%d snippets passed, %d errors' % (ok, len(errors)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
