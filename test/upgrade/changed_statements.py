#!/usr/bin/env python3
"""Helps write an upgrade script: the CREATE FUNCTION / CREATE TRIGGER / COMMENT ON statements
whose text differs between a frozen release's install script and the current one (new, changed,
removed), and whether the upgrade script names each object at all. test/e2e/upgrade.sh is the
proof; this only says where to look (docs/releases.md).

  test/upgrade/changed_statements.py src/extension/releases/sdp--0.1.0.sql \\
      src/extension/sdp--0.2.0.sql src/extension/sdp--0.1.0--0.2.0.sql
"""
import re
import sys

STATEMENT = re.compile(r'(CREATE (?:OR REPLACE )?FUNCTION|CREATE TRIGGER|COMMENT ON \w+) ([\w."]+)')


def statements(path):
    """{(kind, name): [statement text, ...]} of one SQL script."""
    lines = open(path, encoding='utf-8').read().split('\n')
    found = {}
    i = 0
    while i < len(lines):
        m = STATEMENT.match(lines[i])
        if not m:
            i += 1
            continue
        text, dollars = [], 0
        for j in range(i, len(lines)):  # to the first ';' at a line end outside $$ quotes
            text.append(lines[j])
            dollars += lines[j].count('$$')
            if lines[j].rstrip().endswith(';') and dollars % 2 == 0:
                break
        found.setdefault((m.group(1).replace('OR REPLACE ', ''), m.group(2)), []).append('\n'.join(text))
        i = j + 1
    return found


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    released, current = statements(sys.argv[1]), statements(sys.argv[2])
    upgrade = open(sys.argv[3], encoding='utf-8').read()
    missing = 0
    for key in sorted(set(released) | set(current)):
        if released.get(key) == current.get(key):
            continue
        state = 'new' if key not in released else 'removed' if key not in current else 'changed'
        named = key[1] in upgrade
        missing += not named
        print(f"{state:8} {key[0]:20} {key[1]:45} {'named in the upgrade' if named else 'NOT NAMED IN THE UPGRADE'}")
    sys.exit(1 if missing else 0)


if __name__ == '__main__':
    main()
