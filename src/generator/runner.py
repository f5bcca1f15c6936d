# The gs runner for Guiding Star generator modules (Python >= 3.8, standard library only).
#
#   python3 runner.py flag|gen < facts.json
#
# Runs in the module's folder (the working directory). Loads `flag.py` and calls
# `flag(user, flag) -> str`, or loads `gen.py` and calls `gen(user, chall) -> path`, with
# objects shaped like the reference's (user._store.id, chall._store.key, chall.flags[i].
# correct_flag(user), ...), built from the JSON facts on stdin. Prints the flag, or the
# generated file's resolved path, as the only line of stdout; whatever the module prints
# goes to stderr, which gs logs.

import importlib.util
import json
import pathlib
import sys


class Record:
    """Attributes from a dict (the reference's `_store` rows)."""

    def __init__(self, fields):
        self.__dict__.update(fields)

    def __repr__(self):
        return "Record(%r)" % self.__dict__


class Profile:
    def __init__(self, fields):
        self._store = Record(fields)
        self.__dict__.update(fields)


class User:
    def __init__(self, facts):
        profile = facts.get("profile") or {}
        self._store = Record({k: v for k, v in facts.items() if k != "profile"})
        self.profile = Profile(profile)

    def __repr__(self):
        return "<User #%s>" % self._store.id


class Flag:
    def __init__(self, challenge, index, facts):
        self.challenge = challenge
        self.index = index
        self.name = facts["name"]
        self.type = facts["type"]
        self.val = facts["val"]
        self.base_score = facts.get("base_score")
        self._correct = facts.get("correct_flag")
        self._uid = None

    def correct_flag(self, user):
        if user._store.id != self._uid:
            raise ValueError("gs runner: only the flags of user #%s are known" % self._uid)
        if self._correct is None:
            raise ValueError(
                "gs runner: flag #%d of %s has no value for this user yet"
                % (self.index + 1, self.challenge._store.key)
            )
        return self._correct

    def __repr__(self):
        return "<Flag %r of %s>" % (self.name, self.challenge._store.key)


class Challenge:
    def __init__(self, facts, uid):
        self._store = Record({k: v for k, v in facts.items() if k != "flags"})
        self.flags = [Flag(self, i, f) for i, f in enumerate(facts.get("flags", []))]
        for f in self.flags:
            f._uid = uid

    def __repr__(self):
        return "<Challenge %s>" % self._store.key


def load(name):
    path = pathlib.Path.cwd() / (name + ".py")
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main():
    kind = sys.argv[1]
    facts = json.load(sys.stdin)
    sys.path.insert(0, str(pathlib.Path.cwd()))
    answer_to = sys.stdout
    sys.stdout = sys.stderr  # the module's prints must not mix with the answer
    user = User(facts["user"])
    chall = Challenge(facts["challenge"], user._store.id)
    if kind == "flag":
        result = load("flag").flag(user, chall.flags[facts["flag_idx"]])
        if not isinstance(result, str):
            raise TypeError("flag() returned %r, not a str" % (result,))
    elif kind == "gen":
        result = str(pathlib.Path(load("gen").gen(user, chall)).resolve())
    else:
        raise SystemExit("gs runner: unknown kind %r" % kind)
    if "\n" in result:
        raise ValueError("the result holds a line break: %r" % result)
    answer_to.write(result + "\n")
    answer_to.flush()


if __name__ == "__main__":
    main()
