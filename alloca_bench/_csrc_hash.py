"""The hash of csrc/ that names the exact kernels of a build (standard library only: the builder
loads this file by path before the package can be imported)."""
import hashlib
import os


def csrc_sha256(csrc: str) -> str:
    """SHA-256 over the names and bytes of every file in `csrc`, in name order."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(csrc)):
        digest.update(name.encode())
        with open(os.path.join(csrc, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()
