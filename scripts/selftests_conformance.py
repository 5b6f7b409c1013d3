#!/usr/bin/env python3
"""Conformance of bpfpipe against bpftool over the Linux 6.12 BPF selftests.

Driven by scripts/selftests-conformance (which installs linux-source-6.12 and mounts bpffs).
Standard library only.

Steps:
  1. extract from /usr/src/linux-source-6.12.tar.xz only what the progs need
     (selftests/bpf/progs/, selftests/bpf/**.h, tools/lib/bpf/, tools/include/uapi/,
     tools/include/linux/filter.h, include/uapi/linux/bpf.h, scripts/bpf_doc.py);
  2. generate bpf/bpf_helper_defs.h (scripts/bpf_doc.py) and vmlinux.h (bpftool btf dump);
  3. compile every progs/*.c with clang (parallel, timeout each; results cached in the work dir
     and reused while the sources, flags, clang and the kernel's BTF stay the same);
  4. load each object with `bpftool prog loadall OBJ DIR` and `bpfpipe load OBJ --pin DIR
     --pin-maps-by-name DIR2`, each in a fresh bpffs dir removed afterwards;
  5. read each object's bpf_misc.h expectations (BTF decl tags `comment:test_expect_*`)
     with `bpftool btf dump file OBJ`;
  6. print the table (and --json FILE); last line `conformance: N passed, M failed`.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

TARBALL = "/usr/src/linux-source-6.12.tar.xz"
TOP = "linux-source-6.12"
BPFFS = "/sys/fs/bpf"
EXTRACT_PATTERNS = [
    f"{TOP}/tools/testing/selftests/bpf/progs/*",
    f"{TOP}/tools/testing/selftests/bpf/*.h",   # --wildcards: '*' also matches '/', so subdirs too
    f"{TOP}/tools/lib/bpf/*",
    f"{TOP}/tools/include/uapi/*",
    f"{TOP}/tools/include/linux/filter.h",
    f"{TOP}/include/uapi/linux/bpf.h",
    f"{TOP}/scripts/bpf_doc.py",
]
EXTRACT_STAMP_VERSION = "1"
# Flags of the selftests Makefile (BPF_CFLAGS/CLANG_CFLAGS) that matter for the objects.
EXTRA_CFLAGS = [
    "-std=gnu11", "-fno-strict-aliasing", "-Wno-compare-distinct-pointer-types",
    "-DENABLE_ATOMICS_TESTS", "-Wno-unknown-warning-option",
]

ERROR_WORDS = re.compile(
    r"(?i)(error|fail|invalid|unsupported|not supported|unknown|unrecognized|not found|"
    r"cannot|can't|couldn't|denied|missing|no such|unexpected|refus|mismatch|too large|"
    r"not permitted|timed out|bad )")

_interrupted = threading.Event()


def log(msg):
    print(f"[selftests-conformance] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# small process helpers

def run(cmd, timeout, cwd=None):
    """Run cmd in its own process group; returns (rc, stdout, stderr, seconds, timed_out)."""
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as e:
        return 127, "", f"cannot run {cmd[0]}: {e}", 0.0, False
    try:
        out, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = p.communicate()
        timed_out = True
    return (p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            time.monotonic() - t0, timed_out)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def write_text(path, text):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# preparation: extract, headers, vmlinux.h

def prepare(work, bpftool):
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, TOP)
    st = os.stat(TARBALL)
    stamp_want = f"{EXTRACT_STAMP_VERSION} {st.st_size} {int(st.st_mtime)}\n" + "\n".join(EXTRACT_PATTERNS)
    stamp = os.path.join(work, "extract.stamp")
    t0 = time.monotonic()
    if read_text(stamp) != stamp_want or not os.path.isdir(os.path.join(src, "tools/testing/selftests/bpf/progs")):
        log(f"extracting selftests from {TARBALL} into {work} ...")
        if os.path.isdir(src):
            shutil.rmtree(src)
        rc, out, err, _, _ = run(["tar", "-xJf", TARBALL, "-C", work, "--wildcards"] + EXTRACT_PATTERNS, 900)
        if rc != 0:
            sys.exit(f"selftests-conformance: tar failed: {err.strip()[:500]}")
        write_text(stamp, stamp_want)
    t_extract = time.monotonic() - t0

    # <work>/include: bpf/*.h (libbpf 6.12 headers + generated bpf_helper_defs.h), linux/bpf.h
    inc = os.path.join(work, "include")
    os.makedirs(os.path.join(inc, "bpf"), exist_ok=True)
    os.makedirs(os.path.join(inc, "linux"), exist_ok=True)
    libbpf = os.path.join(src, "tools/lib/bpf")
    for name in os.listdir(libbpf):
        if name.endswith(".h"):
            shutil.copyfile(os.path.join(libbpf, name), os.path.join(inc, "bpf", name))
    uapi_bpf = os.path.join(src, "include/uapi/linux/bpf.h")
    shutil.copyfile(uapi_bpf, os.path.join(inc, "linux", "bpf.h"))
    defs = os.path.join(inc, "bpf", "bpf_helper_defs.h")
    rc, out, err, _, _ = run([sys.executable, os.path.join(src, "scripts/bpf_doc.py"), "--header",
                              "--file", uapi_bpf], 120)
    if rc != 0 or "bpf_map_lookup_elem" not in out:
        sys.exit(f"selftests-conformance: bpf_doc.py failed: {err.strip()[:500]}")
    if read_text(defs) != out:
        write_text(defs, out)

    # vmlinux.h from the running kernel's BTF (rewritten only when it changes, so the compile
    # cache stays valid)
    vdir = os.path.join(work, "vmlinux")
    os.makedirs(vdir, exist_ok=True)
    vmlinux_h = os.path.join(vdir, "vmlinux.h")
    btf_hash = sha256_file("/sys/kernel/btf/vmlinux")
    if read_text(os.path.join(vdir, "btf.sha256")).strip() != btf_hash or not os.path.exists(vmlinux_h):
        log("generating vmlinux.h ...")
        rc, out, err, _, _ = run([bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], 300)
        if rc != 0:
            sys.exit(f"selftests-conformance: bpftool btf dump of vmlinux failed: {err.strip()[:500]}")
        write_text(vmlinux_h, out)
        write_text(os.path.join(vdir, "btf.sha256"), btf_hash + "\n")
    return src, inc, vdir, t_extract


# ---------------------------------------------------------------------------------------------
# compile

def compile_flags(src, inc, vdir, clang):
    selftests = os.path.join(src, "tools/testing/selftests/bpf")
    progs = os.path.join(selftests, "progs")
    multiarch = f"/usr/include/{platform.machine()}-linux-gnu"
    return ([clang, "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86"] + EXTRA_CFLAGS +
            ["-I" + inc, "-I" + selftests, "-I" + progs, "-I" + vdir,
             "-I" + os.path.join(src, "tools/include/uapi"), "-I" + multiarch])


def compile_all(sources, progs_dir, objdir, flags, jobs, timeout, deadline):
    """Compile sources (names without .c). Returns {name: {"ok", "error", "seconds", "cached"}}."""
    results = {}
    lock = threading.Lock()

    def one(name):
        if _interrupted.is_set() or (deadline and time.monotonic() > deadline):
            return name, None
        c = os.path.join(progs_dir, name + ".c")
        o = os.path.join(objdir, name + ".bpf.o")
        f = os.path.join(objdir, name + ".fail")
        c_mtime = os.stat(c).st_mtime
        if os.path.exists(o) and os.stat(o).st_mtime >= c_mtime:
            return name, {"ok": True, "error": "", "seconds": 0.0, "cached": True}
        if os.path.exists(f) and os.stat(f).st_mtime >= c_mtime:
            return name, {"ok": False, "error": read_text(f).splitlines()[0] if read_text(f) else "compile failed",
                          "seconds": 0.0, "cached": True}
        tmp = f"{o}.{os.getpid()}.tmp"
        rc, out, err, secs, timed_out = run(flags + ["-c", c, "-o", tmp], timeout)
        if rc == 0 and not timed_out:
            os.replace(tmp, o)
            return name, {"ok": True, "error": "", "seconds": secs, "cached": False}
        if os.path.exists(tmp):
            os.unlink(tmp)
        if timed_out:
            first = f"compile timed out after {timeout}s"
        else:
            lines = [l for l in err.splitlines() if ": error:" in l or "fatal error" in l]
            first = (lines[0] if lines else (err.strip().splitlines() or [f"clang exit {rc}"])[0])
            first = first.replace(progs_dir + "/", "")
        if not timed_out:  # a timeout may pass on a quieter machine: do not cache it
            write_text(f, first + "\n" + err)
        return name, {"ok": False, "error": first, "seconds": secs, "cached": False}

    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        futs = [ex.submit(one, n) for n in sources]
        for fut in concurrent.futures.as_completed(futs):
            name, res = fut.result()
            with lock:
                done += 1
                if res is not None:
                    results[name] = res
                if done % 50 == 0:
                    log(f"compiled {done}/{len(sources)}")
    return results


# ---------------------------------------------------------------------------------------------
# expectations (bpf_misc.h decl tags) and map names, from `bpftool btf dump file OBJ`

DECL_TAG_RE = re.compile(r"^\[(\d+)\] DECL_TAG '(.*?)' type_id=(\d+) component_idx=(-?\d+)$", re.M | re.S)
NAMED_RE = re.compile(r"^\[(\d+)\] (FUNC|VAR) '([^'\n]*)'", re.M)


def read_btf(bpftool, obj):
    rc, out, err, _, _ = run([bpftool, "btf", "dump", "file", obj], 60)
    info = {"btf_ok": rc == 0, "tags": {}, "vars": set(), "pinning": False}
    if rc != 0:
        return info
    # a BTF-defined map with a 'pinning' field (possibly LIBBPF_PIN_BY_NAME)
    info["pinning"] = re.search(r"^\s+'pinning' type_id=", out, re.M) is not None
    names = {}
    for m in NAMED_RE.finditer(out):
        names[int(m.group(1))] = (m.group(2), m.group(3))
        if m.group(2) == "VAR":
            info["vars"].add(m.group(3))
    for m in DECL_TAG_RE.finditer(out):
        tag, target = m.group(2), int(m.group(3))
        if not tag.startswith("comment:test_"):
            continue
        kind, fname = names.get(target, ("?", f"type {target}"))
        if kind != "FUNC":
            continue
        info["tags"].setdefault(fname, []).append(tag[len("comment:"):])
    return info


def elf_func_sections(path):
    """{function symbol: section name} from a little-endian ELF64 object's symbol table."""
    import struct
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            return {}
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        shdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        def cstr(off):
            return data[off:data.index(b"\0", off)].decode("utf-8", "replace")
        shstr = shdrs[shstrndx][4]
        names = [cstr(shstr + h[0]) for h in shdrs]
        out = {}
        for h in shdrs:
            if h[1] != 2:  # SHT_SYMTAB
                continue
            strtab = shdrs[h[6]][4]
            for off in range(h[4], h[4] + h[5], 24):
                st_name, st_info, _, st_shndx = struct.unpack_from("<IBBH", data, off)
                if st_info & 0xF == 2 and 0 < st_shndx < len(names):  # STT_FUNC
                    out[cstr(strtab + st_name)] = names[st_shndx]
        return out
    except (OSError, ValueError, struct.error, IndexError):
        return {}


def expectation(tags, sections):
    """Object-level expectation from per-function tags."""
    failure = sorted(f for f, ts in tags.items() if "test_expect_failure" in ts)
    # SEC("?...") programs are not autoloaded (libbpf's rule, which bpfpipe follows)
    failure_autoload = [f for f in failure if not sections.get(f, "").startswith("?")]
    success = sorted(f for f, ts in tags.items() if "test_expect_success" in ts)
    aux = sorted(f for f, ts in tags.items() if "test_auxiliary" in ts)
    msgs = sum(1 for ts in tags.values() for t in ts if t.startswith("test_expect_msg="))
    declared = bool(tags)
    return {
        "declared": declared,
        "expect": "fail" if failure else "success",
        "failure_programs": len(failure),
        "failure_programs_autoload": len(failure_autoload),
        "success_programs": len(success),
        "auxiliary_programs": len(aux),
        "tagged_programs": len(tags),
        "msgs": msgs,
        "first_failure_program": failure[0] if failure else None,
    }


# ---------------------------------------------------------------------------------------------
# load

VERIFIER_END = "-- END PROG LOAD LOG --"
# libbpf lines that are warnings it recovers from, or summaries that say nothing specific
LIBBPF_NOISE = re.compile(
    r"^(libbpf: BTF loading error|libbpf: Error loading \.BTF into kernel|libbpf: Error loading ELF section \.BTF|"
    r"Warning: bpftool is now running in libbpf strict mode|If it used to work for this object file|"
    r"libbpf: elf: skipping|libbpf: map '[^']*': skipping)")
GENERIC = re.compile(r"^(libbpf: failed to load object|Error: failed to load object file|"
                     r"libbpf: failed to load BPF skeleton|libbpf: prog '[^']*': failed to load: )")


def strip_blocks(lines):
    """Drop libbpf's BTF/verifier log blocks ('-- BEGIN ... LOG' .. '-- END ... LOG')."""
    out, inside = [], False
    for l in lines:
        if "-- BEGIN " in l and "LOAD LOG" in l:
            inside = True
            continue
        if "-- END " in l and "LOAD LOG" in l:
            inside = False
            continue
        if not inside:
            out.append(l)
    return out


def first_error(stdout, stderr, rc, timed_out, timeout, obj):
    if timed_out:
        return f"timed out after {timeout}s"
    text = stderr if stderr.strip() else stdout
    lines = [l.strip() for l in strip_blocks(text.splitlines()) if l.strip()]
    lines = [re.sub(r"/\S*/selftests/bpf/progs/", "progs/", l.replace(os.path.dirname(obj) + "/", ""))
             for l in lines]
    # bpfpipe's own error line
    for l in lines:
        if l.startswith("error: "):
            return l[:400]
    useful = [l for l in lines if not LIBBPF_NOISE.match(l)]
    for l in useful:
        if not GENERIC.match(l) and (l.startswith("libbpf: ") or ERROR_WORDS.search(l)):
            return l[:400]
    for l in useful + lines:
        return l[:400]
    return f"exit {rc}"


def verifier_reason(stderr):
    """The verifier's own reason: the last line of the first verifier log printed (libbpf's
    '-- BEGIN PROG LOAD LOG --' block, or bpfpipe's indented 'verifier log' block)."""
    lines = stderr.splitlines()
    block = None
    for i, l in enumerate(lines):
        if "-- BEGIN PROG LOAD LOG --" in l:
            block = []
            for m in lines[i + 1:]:
                if VERIFIER_END in m:
                    break
                block.append(m)
            break
        if l.strip().startswith("verifier log"):
            block = []
            for m in lines[i + 1:]:
                if not m.startswith("    "):
                    break
                block.append(m)
            break
    if not block:
        return None
    skip = ("processed ", "verification time", "stack depth", "max_states_per_insn", "Error:", "libbpf:")
    for m in reversed(block):
        m = m.strip()
        if m and not m.startswith(skip):
            return m[:300]
    return None


class Pins:
    """Fresh bpffs dirs bpfpipe-selftest-<pid>-<n>, always removed."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()
        self.live = set()

    def new(self):
        with self.lock:
            self.n += 1
            d = os.path.join(BPFFS, f"bpfpipe-selftest-{os.getpid()}-{self.n}")
            self.live.add(d)
        return d

    def remove(self, d):
        if os.path.lexists(d):
            shutil.rmtree(d, ignore_errors=True)
            if os.path.lexists(d):
                run(["rm", "-rf", d], 30)
        with self.lock:
            self.live.discard(d)

    def remove_all(self):
        for d in list(self.live):
            self.remove(d)
        prefix = f"bpfpipe-selftest-{os.getpid()}-"
        try:
            for name in os.listdir(BPFFS):
                if name.startswith(prefix):
                    self.remove(os.path.join(BPFFS, name))
        except OSError:
            pass


# libbpf pins LIBBPF_PIN_BY_NAME maps at /sys/fs/bpf/<map> under `bpftool prog loadall` (no
# pin_root_path): objects that use it are loaded one at a time, and whatever top-level entry of
# /sys/fs/bpf appears during the load and is named like one of the object's variables is removed.
_byname_lock = threading.Lock()


def load_one(name, obj, uses_byname, btf_vars, bpftool, bpfpipe, timeout, pins):
    res = {}
    # bpftool
    d = pins.new()
    try:
        if uses_byname:
            _byname_lock.acquire()
        try:
            before = set(os.listdir(BPFFS)) if uses_byname else set()
            rc, out, err, secs, to = run([bpftool, "prog", "loadall", obj, d], timeout)
            if uses_byname:
                for entry in set(os.listdir(BPFFS)) - before:
                    if entry in btf_vars:
                        pins.remove(os.path.join(BPFFS, entry))
        finally:
            if uses_byname:
                _byname_lock.release()
    finally:
        pins.remove(d)
    ok = rc == 0 and not to
    res["bpftool"] = {"ok": ok, "rc": None if to else rc, "timed_out": to, "seconds": round(secs, 3),
                      "first_error": "" if ok else first_error(out, err, rc, to, timeout, obj),
                      "verifier": None if ok else verifier_reason(err)}
    # bpfpipe
    d, d2 = pins.new(), pins.new()
    try:
        rc, out, err, secs, to = run([bpfpipe, "load", obj, "--pin", d, "--pin-maps-by-name", d2], timeout)
    finally:
        pins.remove(d)
        pins.remove(d2)
    ok = rc == 0 and not to
    res["bpfpipe"] = {"ok": ok, "rc": None if to else rc, "timed_out": to, "seconds": round(secs, 3),
                      "first_error": "" if ok else first_error(out, err, rc, to, timeout, obj),
                      "verifier": None if ok else verifier_reason(err)}
    return res


# ---------------------------------------------------------------------------------------------
# reporting

def category(msg):
    """Group error lines: drop object names, source references, quoted names, numbers, paths."""
    s = msg or ""
    s = re.sub(r"^error: [^:]+\.bpf\.o: ", "", s)
    s = re.sub(r"\(/[^()]*:\d+:.*?\\\)", "", s)       # bpfpipe's '(file.c:29: asm volatile ("... \)'
    s = re.sub(r"\([^()]*\.[ch]:\d+:[^()]*\)", "", s)
    s = re.sub(r"(?<![A-Za-z])'[^']*'(?![A-Za-z])", "'_'", s)   # not the apostrophe of "can't"
    s = re.sub(r'"[^"]*"', '"_"', s)
    s = re.sub(r"(?<![\w'])/[\w./-]+", "<path>", s)
    s = re.sub(r"\b[\w-]+\.bpf\.o\b", "<obj>", s)
    s = re.sub(r"\b(0x[0-9a-f]+|\d+)\b", "N", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s[:200]


def summarize(objects):
    c = {"objects": len(objects), "compiled": 0, "attempted": 0, "loaded_by_bpftool": 0,
         "loaded_by_bpfpipe": 0, "both": 0, "bpftool_only": 0, "bpfpipe_only": 0, "neither": 0,
         "bpftool_timeouts": 0, "bpfpipe_timeouts": 0}
    for o in objects:
        if o["compiled"]:
            c["compiled"] += 1
        if "bpftool" not in o:
            continue
        c["attempted"] += 1
        a, b = o["bpftool"]["ok"], o["bpfpipe"]["ok"]
        c["loaded_by_bpftool"] += a
        c["loaded_by_bpfpipe"] += b
        c["both"] += a and b
        c["bpftool_only"] += a and not b
        c["bpfpipe_only"] += b and not a
        c["neither"] += not a and not b
        c["bpftool_timeouts"] += o["bpftool"]["timed_out"]
        c["bpfpipe_timeouts"] += o["bpfpipe"]["timed_out"]
    return c


def expectation_summary(objects):
    out = {}
    for who in ("bpfpipe", "bpftool"):
        e = {"declared_objects": 0, "expect_fail": 0, "expect_success": 0,
             "declared_agree": 0, "declared_disagree": 0,
             "expect_fail_and_failed": 0, "expect_fail_but_loaded": 0,
             "expect_fail_but_loaded_all_failure_progs_optional": 0,
             "expect_success_and_loaded": 0, "expect_success_but_failed": 0,
             "undeclared_objects": 0, "undeclared_loaded": 0, "undeclared_failed": 0}
        for o in objects:
            if who not in o:
                continue
            ok = o[who]["ok"]
            x = o.get("expect")
            if not x or not x["declared"]:
                e["undeclared_objects"] += 1
                e["undeclared_loaded" if ok else "undeclared_failed"] += 1
                continue
            e["declared_objects"] += 1
            if x["expect"] == "fail":
                e["expect_fail"] += 1
                e["expect_fail_and_failed" if not ok else "expect_fail_but_loaded"] += 1
                if ok and x.get("failure_programs_autoload") == 0:
                    e["expect_fail_but_loaded_all_failure_progs_optional"] += 1
                e["declared_agree" if not ok else "declared_disagree"] += 1
            else:
                e["expect_success"] += 1
                e["expect_success_and_loaded" if ok else "expect_success_but_failed"] += 1
                e["declared_agree" if ok else "declared_disagree"] += 1
        out[who] = e
    return out


def top_categories(objects, who, other_ok, limit=15):
    groups = {}
    for o in objects:
        if who not in o or o[who]["ok"]:
            continue
        if other_ok is not None and o["bpftool" if who == "bpfpipe" else "bpfpipe"]["ok"] != other_ok:
            continue
        k = category(o[who]["first_error"])
        groups.setdefault(k, []).append(o["name"])
    return sorted(([k, len(v), v] for k, v in groups.items()), key=lambda t: (-t[1], t[0]))[:limit]


def print_report(report, out):
    c = report["counts"]
    w = out.write
    w("\nBPF selftests 6.12 conformance: bpfpipe vs bpftool (prog loadall)\n")
    w(f"  bpfpipe: {report['bpfpipe']}\n  bpftool: {report['bpftool']}\n")
    rows = [("objects (progs/*.c selected)", c["objects"]), ("compiled", c["compiled"]),
            ("load attempted", c["attempted"]),
            ("loaded by bpftool", c["loaded_by_bpftool"]), ("loaded by bpfpipe", c["loaded_by_bpfpipe"]),
            ("both", c["both"]), ("bpftool only", c["bpftool_only"]), ("bpfpipe only", c["bpfpipe_only"]),
            ("neither", c["neither"]),
            ("timeouts bpftool / bpfpipe", f"{c['bpftool_timeouts']} / {c['bpfpipe_timeouts']}")]
    w("\n  {:<32} {:>8}\n".format("count", "value"))
    w("  " + "-" * 41 + "\n")
    for k, v in rows:
        w(f"  {k:<32} {v!s:>8}\n")
    if report["stopped_early"]:
        w(f"  (stopped early by --max-seconds: {report['not_compiled_in_time']} not compiled, "
          f"{report['not_loaded_in_time']} compiled but not loaded)\n")
    t = report["timings"]
    w(f"\n  time: prepare {t['prepare_s']:.1f}s, compile {t['compile_s']:.1f}s "
      f"({report['compile_cached']} cached), load {t['load_s']:.1f}s, total {t['total_s']:.1f}s\n")

    ex = report["expectations"]
    w("\n  declared expectations (bpf_misc.h tags; an object with any __failure program is expected to fail):\n")
    w("  {:<50} {:>8} {:>8}\n".format("", "bpfpipe", "bpftool"))
    for k in ("declared_objects", "expect_fail", "expect_fail_and_failed", "expect_fail_but_loaded",
              "expect_fail_but_loaded_all_failure_progs_optional",
              "expect_success", "expect_success_and_loaded", "expect_success_but_failed",
              "declared_agree", "declared_disagree", "undeclared_objects", "undeclared_loaded",
              "undeclared_failed"):
        w(f"  {k:<50} {ex['bpfpipe'][k]:>8} {ex['bpftool'][k]:>8}\n")
    w("  (..._all_failure_progs_optional: every __failure program is in a SEC(\"?...\") section, which\n"
      "   is not autoloaded, so loading the object as a whole can succeed)\n")

    diffs = report["differences"]
    w(f"\n  objects where bpftool and bpfpipe differ ({len(diffs)}):\n")
    for d in diffs:
        w(f"  - {d['object']}: {d['kind']}\n")
        w(f"      bpftool: {d['bpftool_error'] or 'loaded'}\n")
        if d.get("bpftool_verifier"):
            w(f"               verifier: {d['bpftool_verifier']}\n")
        w(f"      bpfpipe: {d['bpfpipe_error'] or 'loaded'}\n")
        if d.get("bpfpipe_verifier"):
            w(f"               verifier: {d['bpfpipe_verifier']}\n")
    for title, key in (("bpfpipe failures where bpftool loads (by first error)", "bpftool_only_categories"),
                       ("bpfpipe failures where bpftool also fails (by first error)", "neither_categories_bpfpipe")):
        cats = report[key]
        if cats:
            w(f"\n  {title}:\n")
            for k, n, names in cats:
                more = "" if len(names) <= 4 else f", +{len(names) - 4}"
                w(f"  {n:>5}  {k}\n         ({', '.join(names[:4])}{more})\n")
    if report["compile_failures"]:
        w(f"\n  compile failures ({len(report['compile_failures'])}):\n")
        for n, e in report["compile_failures"][:40]:
            w(f"  - {n}: {e[:200]}\n")
        if len(report["compile_failures"]) > 40:
            w(f"  ... {len(report['compile_failures']) - 40} more (see --json)\n")
    if report["leftover_pins"]:
        w(f"\n  WARNING: left in {BPFFS}: {report['leftover_pins']}\n")
    w("\n")


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bpfpipe", help="bpfpipe binary (default .build/release/bpfpipe if present and "
                                      "not older than .build/debug/bpfpipe, else .build/debug/bpfpipe)")
    ap.add_argument("--bpftool", default=shutil.which("bpftool") or "/usr/sbin/bpftool")
    ap.add_argument("--clang", default=shutil.which("clang") or "clang")
    ap.add_argument("--work", default=".build-selftests", help="work dir (default .build-selftests)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N progs/*.c (sorted by name)")
    ap.add_argument("--filter", default="", help="only progs whose name matches this regex")
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="stop compiling/loading new objects this many seconds after start")
    ap.add_argument("--jobs", type=int, default=2, help="parallel compiles and loads (default 2)")
    ap.add_argument("--compile-timeout", type=float, default=180)
    ap.add_argument("--load-timeout", type=float, default=30)
    ap.add_argument("--json", dest="json_file", help="write the full report as JSON here")
    ap.add_argument("--strict", action="store_true", help="exit 1 if bpfpipe fails an object bpftool loads")
    ap.add_argument("--known-exceptions", help="file of 'object  # reason' lines: bpftool-only objects "
                    "listed there are reported as known exceptions, not failures")
    args = ap.parse_args()

    t_start = time.monotonic()
    deadline = t_start + args.max_seconds if args.max_seconds > 0 else None
    work = os.path.abspath(args.work)
    bpfpipe = args.bpfpipe
    if not bpfpipe:
        # release if present (the newer of the two when both are built), else debug
        builds = [p for p in (".build/release/bpfpipe", ".build/debug/bpfpipe") if os.path.exists(p)]
        bpfpipe = max(builds, key=lambda p: os.stat(p).st_mtime) if builds else ".build/debug/bpfpipe"
    bpfpipe = os.path.abspath(bpfpipe)
    if not os.access(bpfpipe, os.X_OK):
        print(f"selftests-conformance: bpfpipe binary {bpfpipe} not found (swift build first, or --bpfpipe)",
              file=sys.stderr)
        return 3
    if not os.path.exists(args.bpftool):
        print(f"selftests-conformance: bpftool {args.bpftool} not found", file=sys.stderr)
        return 3

    # test a private copy, so a `swift build` during the run cannot swap the binary mid-way
    os.makedirs(work, exist_ok=True)
    bpfpipe_orig = bpfpipe
    bpfpipe = os.path.join(work, f"bpfpipe-under-test-{os.getpid()}")
    shutil.copy2(bpfpipe_orig, bpfpipe)
    bpfpipe_built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(bpfpipe).st_mtime))

    pins = Pins()

    def on_signal(signum, frame):
        _interrupted.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)

    try:
        src, inc, vdir, t_extract = prepare(work, args.bpftool)
        t_prepared = time.monotonic()
        progs_dir = os.path.join(src, "tools/testing/selftests/bpf/progs")
        sources = sorted(n[:-2] for n in os.listdir(progs_dir) if n.endswith(".c"))
        if args.filter:
            sources = [n for n in sources if re.search(args.filter, n)]
        if args.limit > 0:
            sources = sources[:args.limit]

        # compile (cache keyed by clang version, flags and the generated headers)
        flags = compile_flags(src, inc, vdir, args.clang)
        rc, clang_version, _, _, _ = run([args.clang, "--version"], 30)
        key = hashlib.sha256("\n".join([clang_version.splitlines()[0] if clang_version else "",
                                        " ".join(flags),
                                        sha256_file(os.path.join(vdir, "vmlinux.h")),
                                        sha256_file(os.path.join(inc, "bpf", "bpf_helper_defs.h"))])
                             .encode()).hexdigest()
        objdir = os.path.join(work, "obj")
        if read_text(os.path.join(work, "obj.key")).strip() != key and os.path.isdir(objdir):
            shutil.rmtree(objdir)
        os.makedirs(objdir, exist_ok=True)
        write_text(os.path.join(work, "obj.key"), key + "\n")
        log(f"compiling {len(sources)} progs with {args.jobs} jobs ...")
        compiled = compile_all(sources, progs_dir, objdir, flags, args.jobs, args.compile_timeout, deadline)
        t_compiled = time.monotonic()
        cached = sum(1 for r in compiled.values() if r["cached"])
        log(f"compiled {sum(r['ok'] for r in compiled.values())}/{len(compiled)} "
            f"in {t_compiled - t_prepared:.1f}s ({cached} cached)")

        objects = []
        for n in sources:
            r = compiled.get(n)
            o = {"name": n, "compiled": bool(r and r["ok"]), "compile_error": (r or {}).get("error", "") if r else None,
                 "compile_seconds": round((r or {}).get("seconds", 0.0), 3)}
            objects.append(o)

        # load, in parallel across objects
        to_load = [o for o in objects if o["compiled"]]
        log(f"loading {len(to_load)} objects with bpftool and bpfpipe ({args.jobs} jobs) ...")

        def load_task(o):
            if _interrupted.is_set() or (deadline and time.monotonic() > deadline):
                return o, None
            obj = os.path.join(objdir, o["name"] + ".bpf.o")
            btf = read_btf(args.bpftool, obj)
            src_text = read_text(os.path.join(progs_dir, o["name"] + ".c"))
            uses_byname = btf["pinning"] or not btf["btf_ok"] or "pinning" in src_text
            res = load_one(o["name"], obj, uses_byname, btf["vars"], args.bpftool, bpfpipe,
                           args.load_timeout, pins)
            res["expect"] = expectation(btf["tags"], elf_func_sections(obj)) if btf["btf_ok"] else None
            return o, res

        done = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            futs = [ex.submit(load_task, o) for o in to_load]
            for fut in concurrent.futures.as_completed(futs):
                o, res = fut.result()
                done += 1
                if res is not None:
                    o.update(res)
                if done % 50 == 0:
                    log(f"loaded {done}/{len(to_load)}")
        t_loaded = time.monotonic()
    except KeyboardInterrupt:
        pins.remove_all()
        print("selftests-conformance: interrupted; bpffs dirs removed", file=sys.stderr)
        return 130
    finally:
        pins.remove_all()
        try:
            os.unlink(bpfpipe)
        except OSError:
            pass

    leftovers = [n for n in os.listdir(BPFFS) if n.startswith(f"bpfpipe-selftest-{os.getpid()}-")]
    counts = summarize(objects)
    differences = []
    for o in objects:
        if "bpftool" not in o or o["bpftool"]["ok"] == o["bpfpipe"]["ok"]:
            continue
        differences.append({
            "object": o["name"],
            "kind": "bpftool only" if o["bpftool"]["ok"] else "bpfpipe only",
            "bpftool_error": o["bpftool"]["first_error"], "bpftool_verifier": o["bpftool"]["verifier"],
            "bpfpipe_error": o["bpfpipe"]["first_error"], "bpfpipe_verifier": o["bpfpipe"]["verifier"],
            "expect": (o.get("expect") or {}).get("expect") if (o.get("expect") or {}).get("declared") else None,
        })
    differences.sort(key=lambda d: (d["kind"], d["object"]))
    report = {
        "bpfpipe": f"{bpfpipe_orig} (built {bpfpipe_built})",
        "bpftool": args.bpftool + " (" + (run([args.bpftool, "version"], 10)[1].splitlines() or ["?"])[0] + ")",
        "clang": args.clang,
        "kernel": platform.release(),
        "options": {"limit": args.limit, "filter": args.filter, "max_seconds": args.max_seconds,
                    "jobs": args.jobs, "load_timeout": args.load_timeout,
                    "compile_timeout": args.compile_timeout},
        "counts": counts,
        "stopped_early": any(o["name"] not in compiled for o in objects) or
                         any(o["compiled"] and "bpftool" not in o for o in objects),
        "not_compiled_in_time": sum(1 for o in objects if o["name"] not in compiled),
        "not_loaded_in_time": sum(1 for o in objects if o["compiled"] and "bpftool" not in o),
        "compile_cached": cached,
        "timings": {"extract_s": round(t_extract, 1), "prepare_s": round(t_prepared - t_start, 1),
                    "compile_s": round(t_compiled - t_prepared, 1), "load_s": round(t_loaded - t_compiled, 1),
                    "total_s": round(time.monotonic() - t_start, 1)},
        "expectations": expectation_summary(objects),
        "differences": differences,
        "bpftool_only_categories": top_categories(objects, "bpfpipe", True),
        "neither_categories_bpfpipe": top_categories(objects, "bpfpipe", False, limit=10),
        "compile_failures": [[o["name"], o["compile_error"]] for o in objects
                             if not o["compiled"] and o["compile_error"] is not None],
        "leftover_pins": leftovers,
        "objects": objects,
    }
    known = {}
    if args.known_exceptions:
        for line in open(args.known_exceptions):
            name, _, reason = line.partition("#")
            if name.strip():
                known[name.strip()] = reason.strip()
    known_hit = sorted(n for n in known if any(o["name"] == n and o.get("bpftool", {}).get("ok") and not o.get("bpfpipe", {}).get("ok")
                                           for o in objects))
    passed, failed = counts["both"], counts["bpftool_only"] - len(known_hit)
    report["conformance"] = {"passed": passed, "failed": failed, "known_exceptions": {n: known[n] for n in known_hit}}
    if known_hit:
        print("\nknown exceptions (bpftool loads, bpfpipe does not, for a documented reason):")
        for n in known_hit:
            print(f"  {n}: {known[n]}")
    print_report(report, sys.stdout)
    if args.json_file:
        with open(args.json_file, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    print(f"conformance: {passed} passed, {failed} failed", flush=True)
    if args.strict and failed > 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
