#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ctest doc_man_synopsis: every prototype in include/smr/*.h appears,
exactly (whitespace aside), in the SYNOPSIS of the man page that documents
the function (docs/man3/NAME.3, or the page it links to with .so), and every
page has the sections NAME, SYNOPSIS, DESCRIPTION, RETURN VALUE (but the
overview smr.3) and SEE ALSO.
Pages are rendered with man (or groff); exit 77 (skipped) when neither is
installed.  usage: man_synopsis.py SRC
"""
import os
import re
import shutil
import subprocess
import sys

src = sys.argv[1]
mandir = os.path.join(src, 'docs', 'man3')
env = dict(os.environ, LC_ALL='C', MANWIDTH='250', MAN_KEEP_FORMATTING='0')

if shutil.which('man'):
    def render(page):
        return subprocess.run(['man', '-M', os.path.join(src, 'docs'), '-E',
                               'ascii', '3', page], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, check=True).stdout
elif shutil.which('groff'):
    def render(page):
        return subprocess.run(['groff', '-man', '-Tascii', '-P-cbou', '-rLL=250n',
                               '-s', 'man3/%s.3' % page], env=env,
                              cwd=os.path.join(src, 'docs'),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              universal_newlines=True, check=True).stdout
else:
    print('neither man nor groff installed: synopsis check skipped')
    sys.exit(77)


def strip(text):
    return re.sub(r'.\x08', '', text)           # overstrike (bold, underline)


def plain(text):
    return re.sub(r'\s+', ' ', text)


def section(text, name):
    m = re.search(r'^%s\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)' % name, text,
                  re.S | re.M)
    return plain(m.group(1)) if m else None


headers = ''
for h in sorted(os.listdir(os.path.join(src, 'include', 'smr'))):
    if h.endswith('.h'):
        headers += open(os.path.join(src, 'include', 'smr', h)).read()
headers = re.sub(r'/\*.*?\*/', ' ', headers, flags=re.S)
headers = re.sub(r'//[^\n]*', ' ', headers)
headers = re.sub(r'^\s*#(?:[^\n]*\\\n)*[^\n]*', ' ', headers, flags=re.M)

errors, cache = [], {}
n = 0
for m in re.finditer(r'\b(SMR_API|SMR_INLINE)\s+([^;{}]*?\))\s*[;{]', headers):
    proto = re.sub(r'\s+', ' ', m.group(2)).strip()
    name = re.search(r'(\w+)\s*\($', proto.split('(')[0] + '(').group(1)
    if name.startswith('smr__'):
        continue
    if m.group(1) == 'SMR_INLINE':
        proto = 'static inline ' + proto
    proto = re.sub(r'\( ', '(', re.sub(r' \)', ')', proto))
    page = name
    path = os.path.join(mandir, name + '.3')
    if not os.path.exists(path):
        errors.append('%s: no page (doc_man_coverage says more)' % name)
        continue
    first = open(path).readline().strip()
    if first.startswith('.so man3/'):
        page = first[len('.so man3/'):-2]
    if page not in cache:
        cache[page] = strip(render(page))
    syn = section(cache[page], 'SYNOPSIS') or ''
    if proto not in syn:
        errors.append('%s: the SYNOPSIS of %s.3 lacks the prototype\n    %s'
                      % (name, page, proto))
    n += 1

for f in sorted(os.listdir(mandir)):
    if not f.endswith('.3') or open(os.path.join(mandir, f)).readline(
    ).startswith('.so '):
        continue
    text = cache.get(f[:-2]) or strip(render(f[:-2]))
    for s in ('NAME', 'SYNOPSIS', 'DESCRIPTION', 'RETURN VALUE', 'SEE ALSO'):
        if s == 'RETURN VALUE' and f == 'smr.3':
            continue                              # the overview
        if section(text, s) is None:
            errors.append('%s: no %s section' % (f, s))

for e in errors:
    print('FAIL ' + e, file=sys.stderr)
print('%d prototypes checked, %d errors' % (n, len(errors)))
sys.exit(1 if errors else 0)
