#!/usr/bin/env python3
"""Lists import cycles between the engine's modules (one node per file),
and fails when there is one. A module may use its parent or children;
anything else that is used back is a cycle. `say!` counts as a use of the
module that defines `emit`."""
import re, os, sys, itertools
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            mod = rel.replace('/mod', '').replace('/', '::')
            if mod in ('lib', 'main'): mod = 'crate'
            files[mod] = open(p).read()
mods = set(files)
def strip_tests(s):
    i = s.find('#[cfg(test)]\nmod tests')
    return s if i < 0 else s[:i]
def paths(src, me):
    src = strip_tests(src)
    src = re.sub(r'//.*', '', src)
    out = set()
    # expand use crate::{a, b::{c, d}} groups roughly: collect every crate::path token
    for m in re.finditer(r'use\s+crate::(\{.*?\});', src, re.S):
        body = m.group(1)
        for tok in re.findall(r'([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)', body):
            out.add(tok)
    for m in re.finditer(r'crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)', src):
        out.add(m.group(1))
    for m in re.finditer(r'super::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)', src):
        parent = me.rsplit('::', 1)[0] if '::' in me else 'crate'
        out.add((parent + '::' if parent != 'crate' else '') + m.group(1))
    # paths through an imported module name: `commands::alarm::run`
    heads = {p.split('::')[0] for p in out}
    for m in re.finditer(r'(?<![:\w])([a-z_][a-z0-9_]*)::([a-z_][a-z0-9_]*)', src):
        if m.group(1) in heads:
            out.add(m.group(1) + '::' + m.group(2))
    return out
edges = {m: set() for m in mods}
for me, src in files.items():
    for p in paths(src, me):
        parts = p.split('::')
        # longest prefix that is a module
        for k in range(len(parts), 0, -1):
            cand = '::'.join(parts[:k])
            if cand in mods:
                if cand != me and not me.startswith(cand + '::') and not cand.startswith(me + '::'):
                    edges[me].add(cand)
                break
        else:
            if 'say' in p: pass
    if 'say!(' in src and me != 'output':
        edges[me].add('output' if 'output' in mods else 'cli')
cycles = []
for a in sorted(mods):
    for b in sorted(edges[a]):
        if a in edges.get(b, ()) and a < b:
            cycles.append((a, b))
# longer cycles via DFS
def reach(a, b, seen):
    if a == b: return True
    for n in edges[a]:
        if n not in seen:
            seen.add(n)
            if reach(n, b, seen): return True
    return False
longer = sorted({tuple(sorted((a, b))) for a in mods for b in edges[a] if reach(b, a, {b})})
for a, b in longer:
    print(f"cycle through {a} <-> {b}")
print(f"{len(mods)} modules, {sum(len(v) for v in edges.values())} edges, {len(longer)} cyclic edges")
sys.exit(1 if longer else 0)
