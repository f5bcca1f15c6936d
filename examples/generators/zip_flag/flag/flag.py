# A dynamic flag the way real Guiding Star generators make them: derived from the
# player's token, so that a leaked flag points at its owner.
import hashlib


def flag(user, flag):
    digest = hashlib.sha256(("zip-salt-" + user._store.token).encode()).hexdigest()
    return "flag{zip_" + digest[:16] + "}"
