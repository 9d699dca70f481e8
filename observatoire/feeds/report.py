"""The import report: errors (the row is quarantined) and warnings (the row is kept), in French.

Values that could identify someone are never shown (masked, `observatoire.masking`):
reports are stored in the database and sent by e-mail. The CSV export neutralises cells that
a spreadsheet would run as formulas (`observatoire.formula`).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from observatoire.formula import escape_text

ERROR = "erreur"
WARNING = "avertissement"
MAX_KEPT_ISSUES = 100_000  # beyond, issues are only counted
MAX_STORED_ISSUES = 500


@dataclass(frozen=True)
class Issue:
    """One problem: where (file, row, column), the value, what is wrong and how to fix it."""

    severity: str
    file: str
    row: int | None
    column: str | None
    value: str
    message: str
    fix: str


@dataclass
class ImportReport:
    file_name: str
    format_name: str
    fingerprint: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    status: str = ""
    dry_run: bool = False
    import_id: int | None = None
    rows_read: int = 0
    rows_imported: int = 0
    rows_already_present: int = 0
    rows_updated: int = 0
    # Stored values that an update's empty or unreadable cells left in place (one per row
    # and column, each with its warning).
    values_kept: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    errors: int = 0
    warnings: int = 0
    issues: list[Issue] = field(default_factory=list)
    _kinds: Counter = field(default_factory=Counter)

    def add(self, issue: Issue) -> None:
        if issue.severity == ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        self._kinds[(issue.severity, issue.column or "", issue.message.split(" :")[0])] += 1
        if len(self.issues) < MAX_KEPT_ISSUES:
            self.issues.append(issue)

    def extend(self, issues: list[Issue]) -> None:
        for issue in issues:
            self.add(issue)

    @property
    def ok(self) -> bool:
        """True when nothing blocked (warnings allowed)."""
        return self.errors == 0

    def counts(self) -> dict[str, int]:
        return {
            "lignes_lues": self.rows_read,
            "lignes_importees": self.rows_imported,
            "lignes_deja_presentes": self.rows_already_present,
            "lignes_mises_a_jour": self.rows_updated,
            "valeurs_conservees": self.values_kept,
            "lignes_en_double": self.rows_duplicate,
            "lignes_en_quarantaine": self.rows_quarantined,
            "erreurs": self.errors,
            "avertissements": self.warnings,
        }

    def summary_by_kind(self) -> list[dict[str, Any]]:
        return [
            {"gravite": s, "colonne": c, "probleme": m, "nombre": n}
            for (s, c, m), n in self._kinds.most_common()
        ]

    def to_json(self) -> dict[str, Any]:
        """What is stored with the import (first issues, counts by kind)."""
        return {
            "fichier": self.file_name,
            "format": self.format_name,
            "statut": self.status,
            "encodage": self.encoding,
            "separateur": self.delimiter,
            **self.counts(),
            "par_type": self.summary_by_kind(),
            "problemes": [asdict(i) for i in self.issues[:MAX_STORED_ISSUES]],
        }

    def to_text(self, limit: int = 30) -> str:
        lines = [
            f"Fichier : {self.file_name} (format {self.format_name})",
            f"Statut : {self.status}",
        ]
        if self.encoding:
            sep = {";": "point-virgule", ",": "virgule", "\t": "tabulation", "|": "barre"}.get(
                self.delimiter or "", self.delimiter or "-"
            )
            lines.append(f"Lecture : encodage {self.encoding}, séparateur {sep}")
        lines += [
            f"Lignes lues : {self.rows_read}",
            f"  importées : {self.rows_imported}",
            f"  mises à jour (contenu changé depuis un import précédent) : "
            f"{self.rows_updated}",
            f"    valeurs enregistrées conservées (cellule vide ou illisible) : "
            f"{self.values_kept}",
            f"  déjà présentes (imports précédents) : {self.rows_already_present}",
            f"  en double dans le fichier : {self.rows_duplicate}",
            f"  en quarantaine (erreurs bloquantes) : {self.rows_quarantined}",
            f"Erreurs : {self.errors} ; avertissements : {self.warnings}",
        ]
        if self._kinds:
            lines.append("Par type :")
            for (severity, column, message), n in self._kinds.most_common(15):
                where = f" [{column}]" if column else ""
                lines.append(f"  {n:>7} × {severity}{where} : {message}")
        if self.issues:
            lines.append(f"Détail ({min(limit, len(self.issues))} premiers sur "
                         f"{self.errors + self.warnings}) :")
            for issue in self.issues[:limit]:
                where = f"ligne {issue.row}" if issue.row else "fichier"
                column = f", colonne « {issue.column} »" if issue.column else ""
                value = f", valeur {issue.value!r}" if issue.value else ""
                lines.append(f"  - {issue.severity} ({where}{column}{value}) : {issue.message}"
                             f" → {issue.fix}")
        return "\n".join(lines)

    def write_csv(self, path: Path) -> None:
        """All kept issues as a CSV for a spreadsheet (``;``, UTF-8 with BOM), written whole
        and readable by its owner only (`observatoire.output_files`)."""
        from observatoire.output_files import replaced_atomically

        with replaced_atomically(path) as temporary, temporary.open(
            "w", encoding="utf-8-sig", newline=""
        ) as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(["fichier", "ligne", "colonne", "valeur", "gravite", "probleme",
                             "correction"])
            for i in self.issues:
                writer.writerow([escape_text(c) for c in (
                    i.file, i.row or "", i.column or "", i.value, i.severity, i.message, i.fix
                )])

