#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compiles, and where it is a whole program runs, every C++ code block of the docs.

    doc_blocks.py extract --root REPO --out DIR FILE.md...
        Writes one translation unit per ```cpp block of the Markdown files into DIR (with
        `#line` directives, so a compiler error names the Markdown file and line) and
        DIR/manifest.json. Run at build time by tests/docs/CMakeLists.txt.

    doc_blocks.py check --manifest DIR/manifest.json --work-dir W --afterwork-dir BUILD
                        --generator G [--cxx-compiler C] [--make-program P]
                        [--launcher L] [--sanitize S]
        The `docs.blocks` test: configures a small consumer project in W that finds the
        built library through its build-tree package (afterwork_DIR=BUILD) and links
        `afterwork::afterwork`, as a user's project would; compiles each block on its own, then
        runs the programs. Exits 1 naming FILE:LINE of each block that failed.

How a block is checked (the convention the docs follow; see also docs/architecture.md):

- A ```cpp block (also c++, cxx) is a whole translation unit with its own includes. It is
  compiled; when it defines `int main` it is linked and run, and must exit 0 within a minute.
- A block that calls `.run(` (App::run) serves HTTP: it must set `.port = N` in its options.
  The test replaces N by 0 (the system picks a free port: the README keeps the port a reader
  expects, and no fixed port can clash with another test or another build running at once),
  finds the port the program listens on in /proc, sends it one HTTP request, then SIGTERM,
  and expects a graceful exit 0.
- `<!-- doc-block: fragment -->` on the line before the fence: statements, compiled inside a
  function with `afterwork::App& app` in scope, after `#include <afterwork/afterwork.hpp>`,
  common std headers and `using namespace std::chrono_literals;`.
- `<!-- doc-block: declarations -->`: namespace-scope code after the same includes.
- Blocks of other languages (sh, cmake, text, ...) are not compiled.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

CPP_LANGUAGES = {"cpp", "c++", "cxx"}
KINDS = {"unit", "fragment", "declarations"}
MARKER = re.compile(r"^\s*<!--\s*doc-block:\s*([A-Za-z-]+)\s*-->\s*$")
FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)")
MAIN = re.compile(r"\bint\s+main\s*\(")
SERVES = re.compile(r"\.run\s*\(")
PORT = re.compile(r"(\.port\s*=\s*)\d+")

PRELUDE = """\
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <afterwork/afterwork.hpp>

using namespace std::chrono_literals;
"""


# ---------------------------------------------------------------------------------------------
# extract


def blocks_of(path):
    """Yields (line of the first code line, language, kind or None, code) per fenced block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening.group(2)
        language = opening.group(3).lower()
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(previous)
        kind = marker.group(1) if marker else None
        closing = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) +
                             r",}\s*$")
        start = i + 1
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            i += 1
        yield start + 1, language, kind, "\n".join(lines[start:i]) + "\n"
        i += 1


def translation_unit(block, source_path):
    code = block["code"]
    line = f'#line {block["line"]} "{source_path}"\n'
    header = (f"// Generated from {block['file']}:{block['line']} by tests/docs/doc_blocks.py;\n"
              "// edit the Markdown, not this file.\n")
    if block["serves"]:
        # See the module comment: a served block listens on a port the system picks.
        code = PORT.sub(r"\g<1>0", code)
    if block["kind"] == "fragment":
        return (header + PRELUDE + "\n[[maybe_unused]] static void doc_fragment("
                "[[maybe_unused]] afterwork::App& app) {\n" + line + code + "}\n")
    if block["kind"] == "declarations":
        return header + PRELUDE + line + code
    return header + line + code


def extract(args):
    root = Path(args.root).resolve()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.cpp"):
        old.unlink()
    manifest = []
    for name in args.markdown:
        path = Path(name).resolve()
        relative = path.relative_to(root).as_posix()
        for line, language, kind, code in blocks_of(path):
            if language not in CPP_LANGUAGES:
                continue
            stem = re.sub(r"[^A-Za-z0-9]", "_", relative) + f"_{line}"
            block = {"file": relative, "line": line, "kind": kind or "unit", "code": code,
                     "target": "doc_" + stem, "source": str(out / (stem + ".cpp")), "error": None}
            block["program"] = block["kind"] == "unit" and bool(MAIN.search(code))
            block["serves"] = block["program"] and bool(SERVES.search(code))
            if block["kind"] not in KINDS:
                block["error"] = (f"unknown doc-block kind '{kind}' (known: fragment, "
                                  "declarations; no marker: a whole translation unit)")
            elif block["serves"] and not PORT.search(code):
                block["error"] = ("a block that serves (calls .run) must set `.port = N` in its "
                                  "options, so the test can move it to a free port")
            Path(block["source"]).write_text(translation_unit(block, path), encoding="utf-8")
            del block["code"]
            manifest.append(block)
    text = json.dumps(manifest, indent=1) + "\n"
    manifest_path = out / "manifest.json"
    # Rewritten only when it changed, so the build does not redo what depends on it.
    if not manifest_path.exists() or manifest_path.read_text(encoding="utf-8") != text:
        manifest_path.write_text(text, encoding="utf-8")
    print(f"doc_blocks: {len(manifest)} C++ block(s) in {len(args.markdown)} file(s)")
    return 0


# ---------------------------------------------------------------------------------------------
# check


def consumer_project(blocks):
    lines = [
        "# Generated by tests/docs/doc_blocks.py: one target per C++ block of the docs.",
        "cmake_minimum_required(VERSION 3.25)",
        "project(afterwork_doc_blocks CXX)",
        "find_package(afterwork 0.1 REQUIRED)",
        "set(flags -Wall -Wextra -Wpedantic -Wno-missing-field-initializers -Werror)",
    ]
    for block in blocks:
        if block["error"]:
            continue
        kind = "add_executable" if block["program"] else "add_library"
        extra = "" if block["program"] else " OBJECT"
        lines += [
            f'{kind}({block["target"]}{extra} "{block["source"]}")',
            f'target_link_libraries({block["target"]} PRIVATE afterwork::afterwork)',
            f'target_compile_options({block["target"]} PRIVATE ${{flags}})',
        ]
    return "\n".join(lines) + "\n"


def run(command, timeout, **kwargs):
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, **kwargs)


def listening_ports(pid):
    """The TCP ports process `pid` listens on, from its socket descriptors and /proc/net."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    except OSError:
        return []
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def http_status_line(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")


def run_server(executable, log):
    """Starts a serving program, checks that it answers HTTP, stops it with SIGTERM."""
    with open(log, "w+", encoding="utf-8") as output:
        process = subprocess.Popen([executable], stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            ports = []
            while not ports and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
                ports = listening_ports(process.pid)
            if not ports:
                state = ("exited with " + str(process.returncode)
                         if process.poll() is not None else "did not listen within 60 s")
                return False, state
            status = http_status_line(ports[0])
            if not status.startswith("HTTP/1.1 "):
                return False, f"answered {status!r} instead of an HTTP response"
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            if code != 0:
                return False, f"served on port {ports[0]} ({status}), then exited with {code} " \
                              "after SIGTERM"
            return True, f"served on port {ports[0]} ({status}), exit 0 after SIGTERM"
        except (OSError, subprocess.TimeoutExpired) as error:
            return False, f"failed: {error}"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def check(args):
    blocks = json.loads(Path(args.manifest).read_text(encoding="utf-8"))
    work = Path(args.work_dir)
    source_dir, build_dir = work / "project", work / "build"
    source_dir.mkdir(parents=True, exist_ok=True)
    (source_dir / "CMakeLists.txt").write_text(consumer_project(blocks), encoding="utf-8")

    configure = ["cmake", "-S", str(source_dir), "-B", str(build_dir), "-G", args.generator,
                 f"-Dafterwork_DIR={args.afterwork_dir}", "-DCMAKE_BUILD_TYPE=Release"]
    if args.cxx_compiler:
        configure.append(f"-DCMAKE_CXX_COMPILER={args.cxx_compiler}")
    if args.make_program:
        configure.append(f"-DCMAKE_MAKE_PROGRAM={args.make_program}")
    if args.launcher:
        configure.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={args.launcher}")
    if args.sanitize:
        # A sanitized build's static libraries need the sanitizer runtime in the link too.
        configure += [f"-DCMAKE_CXX_FLAGS=-fsanitize={args.sanitize} -fno-omit-frame-pointer",
                      f"-DCMAKE_EXE_LINKER_FLAGS=-fsanitize={args.sanitize}"]
    result = run(configure, 300)
    if result.returncode != 0:
        print(result.stdout)
        print("docs: configuring the consumer project of the doc blocks failed")
        return 1

    failures = []
    for block in blocks:
        where = f'{block["file"]}:{block["line"]}'
        if block["error"]:
            failures.append(f"{where}: {block['error']}")
            continue
        result = run(["cmake", "--build", str(build_dir), "--target", block["target"]], 900)
        if result.returncode != 0:
            print(result.stdout)
            failures.append(f"{where}: the C++ block does not compile ({block['kind']}; "
                            f"generated as {block['source']})")
            continue
        print(f"docs: {where}: compiles ({block['kind']})")
        if not block["program"]:
            continue
        executable = build_dir / block["target"]
        if block["serves"]:
            ok, what = run_server(executable, work / (block["target"] + ".log"))
            if not ok:
                print((work / (block["target"] + ".log")).read_text(encoding="utf-8"))
        else:
            try:
                result = run([str(executable)], 60)
                ok, what = result.returncode == 0, f"exited with {result.returncode}"
                if not ok:
                    print(result.stdout)
            except subprocess.TimeoutExpired:
                ok, what = False, "did not exit within 60 s"
        if ok:
            print(f"docs: {where}: runs: {what}")
        else:
            failures.append(f"{where}: the program {what}")

    for failure in failures:
        print(f"docs: FAILED {failure}")
    print(f"docs: {len(blocks) - len(failures)} of {len(blocks)} C++ block(s) ok")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    extract_parser = commands.add_parser("extract")
    extract_parser.add_argument("--root", required=True)
    extract_parser.add_argument("--out", required=True)
    extract_parser.add_argument("markdown", nargs="+")
    check_parser = commands.add_parser("check")
    for option in ("--manifest", "--work-dir", "--afterwork-dir", "--generator"):
        check_parser.add_argument(option, required=True)
    for option in ("--cxx-compiler", "--make-program", "--launcher", "--sanitize"):
        check_parser.add_argument(option, default="")
    args = parser.parse_args()
    return extract(args) if args.command == "extract" else check(args)


if __name__ == "__main__":
    sys.exit(main())
