"""Zip archives (XLSX workbooks, ODK Central exports) judged before they are unpacked.

The sizes a zip's directory declares are the most that unpacking can produce (`zipfile`
stops there), so checking them bounds the memory a small file can claim (a zip bomb: a
2.3 MB workbook whose sheet is 1.5 GB).
"""

from __future__ import annotations

import zipfile

from observatoire.config import InputLimits

# Parts smaller than this are not judged on their compression ratio (a small styles part of
# repeated tags may compress 200 times and costs nothing).
RATIO_MIN_BYTES = 1 << 20


def _mo(size: int) -> str:
    return f"{size / 2**20:.1f}".replace(".", ",")  # French decimal comma


def zip_size_problem(
    parts: list[zipfile.ZipInfo], compressed_bytes: int, limits: InputLimits, what: str
) -> str | None:
    """Why the archive of ``parts`` must not be unpacked, in French, or ``None``.

    ``what`` names the archive in the message (``"Classeur"``, ``"Archive"``).
    """
    total = sum(p.file_size for p in parts)
    if total > limits.xlsx_max_bytes:
        return (f"{what} trop volumineux une fois décompressé ({total / 2**20:.0f} Mo pour "
                f"{_mo(compressed_bytes)} Mo de fichier ; limite "
                f"{limits.xlsx_max_bytes / 2**20:.0f} Mo, OBSERVATOIRE_XLSX_MAX_BYTES).")
    for part in parts:
        if part.file_size < RATIO_MIN_BYTES:
            continue
        ratio = part.file_size / max(part.compress_size, 1)
        if ratio > limits.xlsx_max_ratio:
            return (f"{what} suspect : la partie {part.filename} se décompresse {ratio:.0f} "
                    f"fois (limite {limits.xlsx_max_ratio:g}, OBSERVATOIRE_XLSX_MAX_RATIO) : "
                    "ce n'est pas un tableau de données ordinaire (bombe de décompression ?).")
    return None
