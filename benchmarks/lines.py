"""Where a chunk of the baseline spends its CPU time in the kernels, line by line (not pytest).

    .venv/bin/python benchmarks/lines.py [pooled|free] [--chunks N] [--top K]

``instructions.py`` counts instructions, which do not show a cache miss or a mispredicted branch;
this samples the time itself. ``perf`` (Debian's ``linux-perf``) samples the program counter
4,000 times a CPU second (a software clock: it needs no hardware counters, so it works in a
virtual machine) while one thread runs ``--chunks`` chunks of 64 baseline draws, pooled (the
capacity path) or pool-free (the fast path). The samples that fall in the kernels are mapped to
their functions and source lines with the line tables numba writes with ``NUMBA_DEBUGINFO=1``.

Read the lines with care. numba inlines ``inline="always"`` helpers before LLVM sees them, and
their lines keep their numbers but are filed under the calling function's file; a line outside
the calling function is shown as its helper's (when two helpers of ``simengine/kernels`` span
the number, both are named). A sample lands on the instruction after a slow one, so the cost of
a load that missed the cache shows on the line that uses it. Debug line tables change the code
a little (helpers such as ``max`` stay calls): shares, not seconds, are what this is for.

How: a first run compiles the kernels with line tables into a numba cache of its own and writes
the chunk kernel's object code; a second, under ``perf record``, loads the same code from that
cache, finds where it lies in memory (by its bytes) and runs the chunks; ``addr2line`` maps each
sample. About eight minutes, most of it the compile. Needs ``perf`` and binutils.
"""

from __future__ import annotations

import argparse
import ast
import collections
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from instructions import CHUNK, ROOT, RUN  # its run of the baseline, chunks=0: the set-up

KERNELS = ROOT / "simengine" / "kernels"
HZ = 4000
KERNEL = {"pooled": "simengine.kernels.capacity:simulate_capacity_chunk",
          "free": "simengine.kernels.funnel:simulate_chunk"}

# first run: the kernel's object code, as compiled (a kernel loaded from a cache keeps none)
WRITE_OBJECT = """
import importlib
module, name = {kernel!r}.split(":")
dispatcher = getattr(importlib.import_module(module), name)
for k, cres in enumerate(dispatcher.overloads.values()):
    Path({tmp!r}, f"kernel{{k}}.o").write_bytes(cres.library._get_compiled_object())
"""

# second run: where that code lies in this process (by its bytes), then the chunks sampled
LOCATE_AND_RUN = """
import ctypes
code = {code!r}
regions = []
for line in open("/proc/self/maps"):
    f = line.split()
    if "r" in f[1] and "x" in f[1] and len(f) <= 5:  # anonymous executable memory: JIT code
        lo, hi = (int(v, 16) for v in f[0].split("-"))
        regions.append((lo, ctypes.string_at(lo, hi - lo)))
for path, start, size in code:
    text = Path(path).read_bytes()[start:start + size]
    for off in range(0, size - 64, 997):  # a window no relocation touched, unique in both
        window = text[off:off + 48]
        if text.count(window) != 1:
            continue
        found = [lo + buf.find(window) for lo, buf in regions if buf.count(window) == 1]
        if len(found) == 1:
            print("BASE", path, found[0] - off, flush=True)
            break
for j in range({chunks}):
    simulate_draws(cs, 7, {chunk} * j, {chunk} * (j + 1))
"""


def code_section(path: Path) -> tuple[int, int]:
    """File offset and size of an ELF object's code (numba's large code model: ``.ltext``)."""
    elf = path.read_bytes()
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", elf, shoff + k * shentsize) for k in range(shnum)]
    names_at = sections[shstrndx][4]
    for name, _, _, _, offset, size in sections:
        label = elf[names_at + name:elf.index(b"\0", names_at + name)]
        if label in (b".ltext", b".text") and size > 0:
            return offset, size
    raise SystemExit(f"lines.py: no code section in {path}")


def demangled(symbol: str) -> str:
    """``module.function`` of a numba symbol (``_ZN9simengine7kernels8capacity7_eventsB4...``)."""
    parts, k = [], symbol.find("_ZN") + 3
    while k < len(symbol) and symbol[k].isdigit():
        j = k
        while symbol[j].isdigit():
            j += 1
        parts.append(symbol[j:j + int(symbol[k:j])])
        k = j + int(symbol[k:j])
    return ".".join(parts[-2:]) if parts else symbol[:40]


def functions() -> dict[str, tuple[str, int, int, bool, set[str]]]:
    """Every function of the kernels' modules: ``module.name`` -> (module, first line, last
    line, inlined, names it calls)."""
    found = {}
    for path in sorted(KERNELS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                inline = any(isinstance(kw.value, ast.Constant) and kw.value.value == "always"
                             for d in node.decorator_list if isinstance(d, ast.Call)
                             for kw in d.keywords if kw.arg == "inline")
                calls = {c.func.id if isinstance(c.func, ast.Name) else c.func.attr
                         for c in ast.walk(node) if isinstance(c, ast.Call)
                         and isinstance(c.func, (ast.Name, ast.Attribute))}
                found[f"{path.stem}.{node.name}"] = (path.stem, node.lineno, node.end_lineno,
                                                     inline, calls)
    return found


def inlined_into(function: str, table: dict) -> list[str]:
    """The helpers inlined into ``function``, directly or through one another (by name)."""
    by_name = collections.defaultdict(list)
    for key, row in table.items():
        if row[3]:
            by_name[key.rsplit(".", 1)[1]].append(key)
    seen, todo = [], [function]
    while todo:
        for name in table.get(todo.pop(), (None, 0, 0, False, set()))[4]:
            for key in by_name.get(name, []):
                if key not in seen:
                    seen.append(key)
                    todo.append(key)
    return seen


def source(module: str, line: int) -> str:
    path = KERNELS / f"{module}.py"
    return path.read_text().splitlines()[line - 1].strip() if path.exists() else ""


def where(function: str, line: int, table: dict) -> str:
    """The source line a sample is filed under, or the inlined helper(s) it must belong to."""
    module = function.rsplit(".", 1)[0]
    own = table.get(function)
    if own is None or own[1] <= line <= own[2]:
        return f"{module}.py:{line:<4d} {source(module, line)}"
    helpers = [key for key in inlined_into(function, table)
               if table[key][1] <= line <= table[key][2]]
    if not helpers:
        return f"{module}.py:{line} (outside {function}; no helper it inlines spans it)"
    m0 = table[helpers[0]][0]
    return f"{m0}.py:{line:<4d} {source(m0, line)}   [inlined: {' | '.join(helpers)}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="pooled", choices=["pooled", "free"])
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    for tool in ("perf", "addr2line"):
        if shutil.which(tool) is None:
            sys.exit(f"lines.py: {tool} is not installed (apt install linux-perf binutils)")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_DEBUGINFO="1", NUMBA_NUM_THREADS="1",
                   NUMBA_CACHE_DIR=f"{tmp}/cache", PYTHONPATH=str(ROOT),
                   PYTHONWARNINGS="ignore")
        setup = RUN.format(root=str(ROOT), which=args.which, chunks=0, chunk=CHUNK)
        subprocess.run([sys.executable, "-c", setup + WRITE_OBJECT.format(
            kernel=KERNEL[args.which], tmp=tmp)], env=env, check=True, capture_output=True)
        objects = sorted(Path(tmp).glob("kernel*.o"))
        code = [(str(p), *code_section(p)) for p in objects]
        run = subprocess.run(
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(HZ), "-o", f"{tmp}/perf.data",
             sys.executable, "-c", setup + LOCATE_AND_RUN.format(code=code, chunks=args.chunks,
                                                                 chunk=CHUNK)],
            env=env, check=True, capture_output=True, text=True)
        bases = [(line.split()[1], int(line.split()[2])) for line in run.stdout.splitlines()
                 if line.startswith("BASE")]
        if not bases:
            sys.exit("lines.py: the kernel's code was not found in memory")
        script = subprocess.run(["perf", "script", "-i", f"{tmp}/perf.data", "-F", "ip"],
                                capture_output=True, text=True, check=True).stdout
        ips = collections.Counter(int(v, 16) for v in script.split())
        total = sum(ips.values())
        table, by_function, by_line, kernel = functions(), collections.Counter(), \
            collections.Counter(), 0
        sizes = {path: size for path, _, size in code}
        for path, base in bases:
            size = sizes[path]
            offsets = {ip - base: n for ip, n in ips.items() if base <= ip < base + size}
            kernel += sum(offsets.values())
            keys = sorted(offsets)
            out = subprocess.run(["addr2line", "-a", "-f", "-e", path],
                                 input="\n".join(hex(k) for k in keys), capture_output=True,
                                 text=True, check=True).stdout.splitlines()
            for k in range(0, len(out), 3):  # address, function, file:line
                off, function = int(out[k], 16), demangled(out[k + 1])
                line = out[k + 2].rsplit(":", 1)[-1].split()[0]
                by_function[function] += offsets[off]
                by_line[(function, int(line) if line.isdigit() else 0)] += offsets[off]
    print(f"{args.which} baseline, {args.chunks} chunks of {CHUNK} draws: {total:,} samples, "
          f"{kernel:,} ({kernel / total:.0%}) in the kernels; shares of those")
    for function, n in by_function.most_common(12):
        print(f"  {n / kernel:6.1%}  {function}")
    print(f"\nthe {args.top} lines with most samples")
    for (function, line), n in by_line.most_common(args.top):
        place = where(function, line, table) if line else "(no line)"
        print(f"  {n / kernel:6.1%}  {function:18s} {place[:120]}")


if __name__ == "__main__":
    main()
