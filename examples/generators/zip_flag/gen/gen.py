# A per-player attachment: a zip holding the player's own dynamic flag. Runs with this
# folder as the working directory; returns the path of the file it made.
import pathlib
import zipfile


def gen(user, chall):
    out_dir = pathlib.Path("_gen")
    out_dir.mkdir(exist_ok=True)
    out = out_dir / ("%d.zip" % user._store.id)
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("flag.txt", chall.flags[0].correct_flag(user) + "\n")
        z.writestr(
            "README.txt",
            "Made for %s (%s) in %s.\n"
            % (user.profile.nickname_or_null, user._store.group, chall._store.title),
        )
    return out
