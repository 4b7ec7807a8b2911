#!/usr/bin/env python3
"""man-options.py - each man page's OPTIONS section says what the option
table says.

Usage: tests/man-options.py BINDIR MANDIR COMMAND...

For every command, and for every subcommand its --help lists under
"Commands:", the options are read from --help (which lm_cli_help prints from
the option table) and compared with the .It entries of man/man1/COMMAND.1's
OPTIONS section.  A subsection (.Ss) whose title is a comma-separated list
of subcommands holds the options of those subcommands; "Common options" and
entries outside any subsection hold options of every (sub)command.  Checked:

  - every option of the table has an entry, in a subsection that covers it;
  - every entry is an option of some (sub)command that its subsection covers;
  - the short name and the argument name (Ar) are the table's;
  - a default the help text states as a number or a word, "(default X)",
    "(default: X)" or "X (default)", appears in the entry's text with
    the word "default".

Prints one line per disagreement and exits 1 if there is any, else 0.
"""
import re
import subprocess
import sys

OPT_LINE = re.compile(r"^  (?:-(\w), )?(?:    )?--([a-z0-9-]+)(?:=(\S+))?(?:\s+(.*))?$")


def help_options(binary, args):
    """{name: (short, arg, help)} from `binary args --help`."""
    out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, check=True).stdout
    opts, subs, section, last = {}, [], None, None
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            section, last = line[:-1], None
            continue
        if section == "Commands" and line.startswith("  ") and not line.startswith("   "):
            subs.append(line.split()[0])
            continue
        if section not in ("Options", "Common options"):
            continue
        m = OPT_LINE.match(line)
        if m and line.lstrip().startswith("-"):
            last = m.group(2)
            opts[last] = [m.group(1), m.group(3), m.group(4) or ""]
        elif last and line.startswith(" " * 30):
            opts[last][2] = (opts[last][2] + " " + line.strip()).strip()
    return opts, subs


def plain(text):
    """The words of an mdoc body, macros and escapes dropped."""
    words = []
    for line in text:
        if line.startswith("."):
            toks = line[1:].split()
            toks = [t for t in toks if not re.fullmatch(r"[A-Z][a-z]|Ql|Dq|Pq|Sq|Li|Cm|Ar|Fl|Ev|Pa|Sx|Xr|Ns|No|Fn|Em|Sy|Op|Oo|Oc|Bk|Ek|Pp", t)]
            words.extend(toks)
        else:
            words.extend(line.split())
    s = " ".join(words)
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\(:u", "u")
    return s


def man_entries(path):
    """[(subsection or None, name, short, arg, body text)] of the OPTIONS section."""
    lines = open(path, encoding="utf-8").read().splitlines()
    entries, inside, sub, cur = [], False, None, None
    def close():
        if cur:
            entries.append((cur[0], cur[1], cur[2], cur[3], plain(cur[4])))
    for line in lines:
        if line.startswith(".Sh "):
            if inside:
                close()
                cur = None
                break
            inside = line.strip() == ".Sh OPTIONS"
            continue
        if not inside:
            continue
        if line.startswith(".Ss "):
            close()
            cur = None
            sub = line[4:].strip()
            continue
        if line.startswith(".It "):
            close()
            cur = None
            toks = line[4:].split()
            name = short = arg = None
            for i, t in enumerate(toks):
                if t == "Fl" and i + 1 < len(toks):
                    v = toks[i + 1].replace("\\-", "-")
                    if v.startswith("-"):
                        name = name or v[1:]
                    elif len(v) == 1 and short is None:
                        short = v
                if t == "Ar" and i + 1 < len(toks) and arg is None:
                    arg = toks[i + 1]
            if name:
                cur = [sub, name, short, arg, []]
            continue
        if line.startswith(".El"):
            close()
            cur = None
            continue
        if cur:
            cur[4].append(line)
    close()
    return entries


def covers(sub, subcommand):
    """Whether a subsection title covers a (sub)command ("" for the command)."""
    if sub is None or sub.lower().startswith("common"):
        return True
    names = [s.strip() for s in sub.split(",")]
    return subcommand in names


def stated_default(helptext):
    m = re.search(r"\(default:? ([^()]*?)\)", helptext)
    if m:
        v = m.group(1).strip()
    else:
        m = re.search(r"(\S+) \(default\)", helptext) or re.search(r"\(([^ ()]+), the default\)", helptext)
        if not m:
            return None
        v = m.group(1).strip(",")
    # "-1: off" states the number -1
    m = re.match(r"(-?[0-9][0-9.e+-]*):", v)
    if m:
        v = m.group(1)
    # only plain values: a number or one word
    if re.fullmatch(r"-?[0-9][0-9.e+-]*", v) or re.fullmatch(r"[a-z][a-z0-9_-]*", v):
        return v
    return None


def main():
    bindir, mandir, commands = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad = []
    for cmd in commands:
        binary = f"{bindir}/{cmd}"
        top, subs = help_options(binary, [])
        tables = {"": top}
        for s in subs:
            tables[s], _ = help_options(binary, [s])
        entries = man_entries(f"{mandir}/{cmd}.1")
        if not entries:
            bad.append(f"{cmd}.1: no OPTIONS entries found")
            continue
        for where, table in tables.items():
            label = f"{cmd} {where}".strip()
            for name, (short, arg, helptext) in table.items():
                mine = [e for e in entries if e[1] == name and covers(e[0], where)]
                if not mine:
                    if where and name in top:
                        continue  # --help/--version of the command itself
                    bad.append(f"{cmd}.1: {label}: --{name} has no entry in OPTIONS"
                               + (f" under a subsection naming '{where}'" if where else ""))
                    continue
                e = mine[0]
                if (e[2] or None) != (short or None):
                    bad.append(f"{cmd}.1: {label}: --{name}: short option {e[2]!r} in the page, {short!r} in the table")
                if (e[3] or None) != (arg or None):
                    bad.append(f"{cmd}.1: {label}: --{name}: argument {e[3]!r} in the page, {arg!r} in the table")
                d = stated_default(helptext)
                if d is not None:
                    body = e[4]
                    if "default" not in body or not re.search(r"(^|[^\w.-])" + re.escape(d) + r"($|[^\w-])", body):
                        bad.append(f"{cmd}.1: {label}: --{name}: the table's default '{d}' is not in the page's text")
        for sub, name, short, arg, body in entries:
            owners = [w for w, t in tables.items() if name in t and covers(sub, w)]
            if not owners:
                bad.append(f"{cmd}.1: entry --{name}" + (f" (under '{sub}')" if sub else "")
                           + " is not an option of the (sub)commands it is listed for")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
