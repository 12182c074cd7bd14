#!/usr/bin/env python3
"""A small mutation tester for vmd's C sources (Python 3, stdlib only).

For one C file it lists mutants made by simple operators, picks a seeded
sample, and applies ONE mutant at a time to a scratch copy of the tree
(never the sources it was started from), rebuilds the given make targets,
runs the test command with a timeout and records what happened:

  killed        the test command failed
  timeout       the test command ran past --timeout (counted as killed)
  survived      the test command passed: a bug the tests do not see
  build-failed  the mutant does not compile (not counted)

  mutate.py list --file daemon/store.c
  mutate.py run --file daemon/store.c --build tests/unit/test_store \\
      --test ./tests/unit/test_store --sample 10 [--seed 15] [--ids 3,17]

Operators (masked: nothing inside comments, strings or char literals):
  REL    < <= > >= == != swapped at the boundary (< to <=, == to !=, ...)
  LOGIC  && to ||, || to &&
  IFNEG  if (c) to if (!(c))
  IFOFF  if (c) to if (0 && (c)): the check is dropped
  DEL    a statement line (a call, an assignment, a guarded return,
         break or continue) replaced by ';'
  CONST  0 to 1, 1 to 0, N to N+1 and N-1, -1 to 0 (RET: return -1 to
         return 0)
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCROOT = os.path.dirname(os.path.dirname(HERE))


# ---- masking ----

def mask(text):
    """text with comments and the insides of string and char literals
    replaced by spaces (newlines kept), so offsets stay the same."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                if out[k] != "\n":
                    out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


def line_starts(text):
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    return starts


def line_of(starts, off):
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= off:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def preproc_lines(masked):
    """Line numbers (1-based) of preprocessor lines other than #define."""
    skip = set()
    for no, ln in enumerate(masked.split("\n"), 1):
        s = ln.strip()
        if s.startswith("#") and not re.match(r"#\s*define\b", s):
            skip.add(no)
    return skip


# ---- operators ----
# A mutant is (op, start, end, replacement); the original text[start:end]
# becomes replacement.

REL_SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
REL_RE = re.compile(r"(?<![<>=!\-])(?:<=|>=|==|!=|<(?![<=])|>(?![>=]))")
DECL_RE = re.compile(r"^(?:(?:const|static|struct|enum|unsigned|signed)\s+)*"
                     r"[A-Za-z_]\w*[\s\*]+\**[A-Za-z_]\w*\s*(?:=|;|\[|,|\()")
KEYWORDS_NOT_STMT = ("if", "for", "while", "switch", "case", "default", "else",
                     "do", "typedef", "struct", "static", "const", "enum")


def match_paren(masked, open_at):
    depth = 0
    for k in range(open_at, len(masked)):
        if masked[k] == "(":
            depth += 1
        elif masked[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    return -1


def op_rel(masked):
    for m in REL_RE.finditer(masked):
        yield ("REL", m.start(), m.end(), REL_SWAP[m.group(0)])


def op_logic(masked):
    for m in re.finditer(r"&&|\|\|", masked):
        other = "||" if m.group(0) == "&&" else "&&"
        yield ("LOGIC", m.start(), m.end(), other)


def op_if(masked):
    for m in re.finditer(r"\bif\s*\(", masked):
        o = m.end() - 1
        c = match_paren(masked, o)
        if c < 0:
            continue
        yield ("IFNEG", o, c + 1, None)
        yield ("IFOFF", o, c + 1, None)


def prev_code_line(lines, idx):
    for k in range(idx - 1, -1, -1):
        s = lines[k].strip()
        if s:
            return s
    return ""


def op_del(masked):
    lines = masked.split("\n")
    starts = line_starts(masked)
    for idx, ln in enumerate(lines):
        s = ln.strip()
        if not s.endswith(";") or s == ";":
            continue
        if s.count("(") != s.count(")") or s.startswith(("}", "{", "#", "*/")):
            continue
        word = re.match(r"[A-Za-z_]\w*", s)
        first = word.group(0) if word else ""
        if first in KEYWORDS_NOT_STMT:
            continue
        prev = prev_code_line(lines, idx)
        if not prev or prev[-1] not in ";{}):" and not prev.endswith("else"):
            continue
        if prev.endswith(":") and \
                not re.match(r"(case\b|default\b|\w+:$)", prev):
            continue  # the tail of a ?: expression
        if first == "return":
            if not (prev.endswith(")") or prev.endswith("else")):
                continue  # only guarded returns: an early exit dropped
        elif DECL_RE.match(s):
            continue
        lead = len(ln) - len(ln.lstrip())
        yield ("DEL", starts[idx] + lead, starts[idx] + len(ln), ";")


NUM_RE = re.compile(r"(?<![\w.])(-\s*)?(\d+)(?![\w.])")


def op_const(masked):
    lines = masked.split("\n")
    starts = line_starts(masked)
    for m in NUM_RE.finditer(masked):
        digits = m.group(2)
        if len(digits) > 1 and digits.startswith("0"):
            continue  # octal modes
        val = int(digits)
        start = m.start(2)
        lineno = line_of(starts, start)
        ln = lines[lineno - 1].strip()
        before = masked[:m.start()].rstrip()
        after = masked[m.end():].lstrip()
        if before.endswith("[") and after.startswith("]") and \
                DECL_RE.match(ln):
            continue  # an array size in a declaration
        if m.group(1):
            prev = before[-1:] if before else ""
            unary = prev in "(,=?:[{" or before.endswith("return")
            if unary:
                op = "RET" if before.endswith("return") else "CONST"
                yield (op, m.start(), m.end(), "0")
                continue
            start = m.start(2)
        if val == 0:
            yield ("CONST", start, m.end(), "1")
        elif val == 1:
            yield ("CONST", start, m.end(), "0")
        else:
            yield ("CONST", start, m.end(), str(val + 1))
            yield ("CONST", start, m.end(), str(val - 1))


OPERATORS = (op_rel, op_logic, op_if, op_del, op_const)


def enumerate_mutants(text):
    masked = mask(text)
    starts = line_starts(text)
    skip = preproc_lines(masked)
    mutants = []
    for opf in OPERATORS:
        for op, a, b, repl in opf(masked):
            lineno = line_of(starts, a)
            if lineno in skip:
                continue
            text_of_line = masked[starts[lineno - 1]:].lstrip()
            if op != "CONST" and text_of_line.startswith("#"):
                continue  # only numbers of a #define are mutated
            orig = text[a:b]
            if op == "IFNEG":
                repl = "(!" + orig + ")"
            elif op == "IFOFF":
                repl = "(0 && " + orig + ")"
            mutants.append({"op": op, "start": a, "end": b, "line": lineno,
                            "orig": orig, "repl": repl})
    mutants.sort(key=lambda m: (m["start"], m["op"], m["repl"]))
    for i, m in enumerate(mutants):
        m["id"] = i
    return mutants


def describe(m):
    def short(s):
        s = " ".join(s.split())
        return s if len(s) <= 38 else s[:35] + "..."
    return "%s -> %s" % (short(m["orig"]), short(m["repl"]))


def sample(mutants, k, seed, path):
    """Round robin over the operators (each group shuffled with a seed made
    from --seed and the file name), so every operator is represented."""
    rng = random.Random("%s:%s" % (seed, path))
    groups = {}
    for m in mutants:
        op = "CONST" if m["op"] == "RET" else m["op"]
        groups.setdefault(op, []).append(m)
    order = sorted(groups)
    for g in order:
        rng.shuffle(groups[g])
    picked = []
    while len(picked) < k and any(groups[g] for g in order):
        for g in order:
            if groups[g] and len(picked) < k:
                picked.append(groups[g].pop())
    return sorted(picked, key=lambda m: m["id"])


def apply(text, m):
    return text[:m["start"]] + m["repl"] + text[m["end"]:]


# ---- running ----

def scratch_tree(src, tree):
    if not os.path.isdir(tree):
        print("copying %s to %s" % (src, tree), flush=True)
        shutil.copytree(src, tree, symlinks=True,
                        ignore=shutil.ignore_patterns(".git"))
    return tree


def run_cmd(cmd, cwd, timeout, env):
    """(rc, seconds, output tail); rc None on timeout.  The command runs in
    its own process group, which is killed on timeout."""
    t0 = time.monotonic()
    p = subprocess.Popen(["nice", "-n", "10", "sh", "-c", cmd], cwd=cwd,
                         env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = None
    return rc, time.monotonic() - t0, out.decode(errors="replace")[-3000:]


def touch(path):
    now = time.time()
    os.utime(path, (now, now))


def run(args):
    src = os.path.abspath(args.src)
    tree = scratch_tree(src, os.path.abspath(args.tree))
    if os.path.realpath(tree) == os.path.realpath(src):
        sys.exit("the scratch tree must not be the source tree")
    target = os.path.join(tree, args.file)
    with open(target) as f:
        text = f.read()
    mutants = enumerate_mutants(text)
    if args.ids:
        want = {int(x) for x in args.ids.split(",")}
        chosen = [m for m in mutants if m["id"] in want]
    else:
        chosen = sample(mutants, args.sample, args.seed, args.file)
    env = dict(os.environ, VMD_BUILDDIR=tree, VMD_SRCDIR=tree)
    build = "make -j2 " + " ".join(args.build)

    rc, _, out = run_cmd(build + " && " + args.test, tree, args.timeout * 2,
                         env)
    if rc != 0:
        sys.exit("the unmutated tree fails its test; fix that first:\n" + out)
    print("%s: %d mutants, running %d"
          % (args.file, len(mutants), len(chosen)), flush=True)
    results = []
    try:
        for m in chosen:
            with open(target, "w") as f:
                f.write(apply(text, m))
            touch(target)
            rc, _, out = run_cmd(build, tree, 600, env)
            if rc != 0:
                outcome, secs = "build-failed", 0.0
            else:
                rc, secs, out = run_cmd(args.test, tree, args.timeout, env)
                outcome = "timeout" if rc is None else \
                    "survived" if rc == 0 else "killed"
            r = dict(m, file=args.file, outcome=outcome,
                     seconds=round(secs, 1))
            if args.logdir:
                os.makedirs(args.logdir, exist_ok=True)
                name = "%s.%d.log" % (args.file.replace("/", "_"), m["id"])
                with open(os.path.join(args.logdir, name), "w") as f:
                    f.write("%s\n%s\n" % (describe(m), out))
            results.append(r)
            print("%4d %-5s %-16s line %-4d %-44s %4.1fs" %
                  (m["id"], m["op"], outcome, m["line"], describe(m), secs),
                  flush=True)
    finally:
        with open(target, "w") as f:
            f.write(text)
        touch(target)
        run_cmd(build, tree, 600, env)
    report(results)
    if args.json:
        old = []
        if os.path.exists(args.json):
            with open(args.json) as f:
                old = json.load(f)
        with open(args.json, "w") as f:
            json.dump(old + results, f, indent=1)


def report(results):
    counts = {}
    for r in results:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    dead = counts.get("killed", 0) + counts.get("timeout", 0)
    valid = len(results) - counts.get("build-failed", 0)
    print("\n%s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    if valid:
        print("score: %d/%d killed (%.0f %%)"
              % (dead, valid, 100.0 * dead / valid))
    for r in results:
        if r["outcome"] == "survived":
            print("SURVIVED %s:%d #%d %s %s" % (r["file"], r["line"], r["id"],
                                               r["op"], describe(r)))


def list_mutants(args):
    with open(os.path.join(args.src, args.file)) as f:
        text = f.read()
    mutants = enumerate_mutants(text)
    chosen = sample(mutants, args.sample, args.seed, args.file) \
        if args.sample else mutants
    for m in chosen:
        print("%4d %-5s line %-4d %s"
              % (m["id"], m["op"], m["line"], describe(m)))
    print("%d of %d mutants" % (len(chosen), len(mutants)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("list", "run"):
        p = sub.add_parser(name)
        p.add_argument("--file", required=True,
                       help="C file, relative to the tree")
        p.add_argument("--src", default=SRCROOT, help="the built tree to copy")
        p.add_argument("--sample", type=int,
                       default=0 if name == "list" else 10)
        p.add_argument("--seed", default="15")
        if name == "run":
            p.add_argument("--tree", default="/tmp/vmd-mutation-tree",
                           help="scratch copy (made from --src if missing)")
            p.add_argument("--build", nargs="+", required=True,
                           help="make targets to rebuild")
            p.add_argument("--test", required=True,
                           help="shell command; 0 = pass")
            p.add_argument("--timeout", type=float, default=120)
            p.add_argument("--ids",
                           help="comma-separated mutant ids (no sampling)")
            p.add_argument("--json", help="append results to this file")
            p.add_argument("--logdir",
                           help="keep each mutant's output tail here")
    args = ap.parse_args()
    (run if args.cmd == "run" else list_mutants)(args)


if __name__ == "__main__":
    main()
